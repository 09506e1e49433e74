"""Prefect's start, as `diptych run` pays it: the command's own API server, and the client's imports.

    .venv/bin/python benchmarks/prefect_start.py [--runs 3]

Server: seconds from launching diptych's locked-down API server (flows.server.PrefectServer, no
UI, no services) to its API answering, in a fresh Prefect home (a new project) on a machine where
no project ran before (Prefect migrates a new database and registers its block types), in another
fresh home after that (it starts from the empty database kept from the first), and in the same
home again (migrations checked, block registration skipped by Prefect's memo), with Prefect's
block registration on (Prefect's default, and diptych's) and off
(PREFECT_SERVER_REGISTER_BLOCKS_ON_START=false). Each round has a cache folder of its own. Client:
seconds to import prefect and diptych's flows in a fresh process, which `diptych run` now does
while its server starts. Medians of --runs, all in one command.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def server_start_s(home: Path, *, blocks: bool) -> float:
    from flows.lockdown import server_environment
    from flows.server import HOST, PrefectServer, free_port
    from pipeline.layout import ProjectLayout

    project = ProjectLayout(root=home.parent)
    port = free_port()
    environment = server_environment(project, host=HOST, port=port)
    environment["PREFECT_SERVER_REGISTER_BLOCKS_ON_START"] = str(blocks).lower()
    server = PrefectServer(home, port=port, timeout_s=600, ui=False, services=False, environment=environment)
    t0 = time.perf_counter()
    server.start()
    took = time.perf_counter() - t0
    server.stop()
    return took


def client_import_s() -> float:
    code = "import time; t = time.perf_counter(); import flows.process_episode; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PREFECT_HOME": tempfile.mkdtemp()})
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {}
    for _ in range(args.runs):
        for blocks in (True, False):
            os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="prefect-start-cache-")
            label = "blocks registered" if blocks else "blocks not registered"
            for fresh in ("first on the machine", "kept database"):
                home = Path(tempfile.mkdtemp(prefix="prefect-start-")) / ".prefect"
                rows.setdefault(f"server, fresh home, {fresh}, {label}", []).append(server_start_s(home, blocks=blocks))
            rows.setdefault(f"server, same home again, {label}", []).append(server_start_s(home, blocks=blocks))
        rows.setdefault("client: import prefect + flows", []).append(client_import_s())
    print(f"\nload average {os.getloadavg()}")
    print(f"{'step':72} {'runs':>4} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, values in rows.items():
        print(f"{name:72} {len(values):4d} {statistics.median(values):9.2f} {min(values):7.2f} {max(values):7.2f}")


if __name__ == "__main__":
    main()
