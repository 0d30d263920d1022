"""Write deploy/constraints.txt: every runtime dependency of pyproject.toml (direct and
indirect) at the version installed in this venv.

    .venv/bin/python deploy/pin_constraints.py > deploy/constraints.txt
"""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

with open("pyproject.toml", "rb") as file:
    deps = tomllib.load(file)["project"]["dependencies"]
seen: dict[str, tuple[str, str]] = {}
todo = [Requirement(d) for d in deps]
while todo:
    req = todo.pop()
    try:
        dist = distribution(req.name)
    except PackageNotFoundError:
        continue
    key = canonicalize_name(dist.metadata["Name"])
    if key in seen and not req.extras:
        continue
    seen[key] = (dist.metadata["Name"], dist.version)
    for raw in dist.requires or []:
        sub = Requirement(raw)
        extras = req.extras or {""}
        if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in extras):
            todo.append(sub)
print("# Exact versions of every runtime dependency, direct and indirect, for the container")
print("# image (pip install --constraint). Regenerate after changing a pin in pyproject.toml:")
print('# docs/deployment.md "Upgrading".')
for name, version in (seen[canonical] for canonical in sorted(seen)):
    print(f"{name}=={version}")
