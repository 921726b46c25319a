"""Our bench's scripts: a beam map with the detector stage, a frequency response of the chain.

They ask the station for roles (``detector``, ``stage``, ``multiplier``), never for a driver, and
take the station as an argument: the same functions run on the bench, and in CI on its simulated
twin started by hilt's pytest plugin.
"""
