"""Map the top-level folders onto subpackages of ``hilt`` (see docs/adr/0001-layout.md)."""

from setuptools import find_packages, setup

LAYERS = ["drivers", "instruments", "loops", "gui", "sims"]

package_dir = {"hilt": "hilt"}
packages = ["hilt", *(f"hilt.{p}" for p in find_packages("hilt"))]
for layer in LAYERS:
    package_dir[f"hilt.{layer}"] = layer
    packages.append(f"hilt.{layer}")
    packages += [f"hilt.{layer}.{p}" for p in find_packages(layer)]

# The example stations ship inside the package (hilt/stations/*.yaml, read with importlib.resources).
setup(packages=packages, package_dir=package_dir,
      package_data={"hilt": ["py.typed"], "hilt.stations": ["*.yaml"]})
