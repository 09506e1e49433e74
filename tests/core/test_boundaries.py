"""The layout's rules, checked on the code itself: the library never reaches Prefect or the flows,
stage packages meet only through each other's public face, and `--help` stays light."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from tests.factories import PROJECT_ROOT

PIPELINE = PROJECT_ROOT / "pipeline"
STAGES = ("inbox", "article", "audio", "transcribe", "pairing", "review", "publish")


def _loaded_after(code: str) -> set[str]:
    """Top-level module names loaded by a fresh interpreter after running `code`."""
    script = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         check=True, timeout=300).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_importing_every_pipeline_module_loads_neither_prefect_nor_flows() -> None:
    modules = sorted(
        ".".join(p.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in PIPELINE.rglob("*.py")
    )
    assert "pipeline.stages" in modules and "pipeline.review.app" in modules
    loaded = _loaded_after("\n".join(f"import {m}" for m in modules))
    assert "pipeline" in loaded
    assert not loaded & {"prefect", "flows"}


def test_help_imports_no_speech_model_nor_prefect() -> None:
    loaded = _loaded_after("from flows.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert "flows" in loaded
    assert not loaded & {"torch", "whisper", "faster_whisper", "prefect", "fastapi"}


def _imports(path: object) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    found = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    found += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    return found


def test_stage_packages_meet_only_through_public_faces() -> None:
    crossings = []
    for stage in STAGES:
        for path in (PIPELINE / stage).rglob("*.py"):
            for module in _imports(path):
                parts = module.split(".")
                if parts[0] == "pipeline" and len(parts) > 2 and parts[1] in STAGES and parts[1] != stage:
                    crossings.append(f"{path.relative_to(PROJECT_ROOT)} imports {module}")
    core = [p for p in PIPELINE.glob("*.py")]
    for path in core:
        for module in _imports(path):
            parts = module.split(".")
            if parts[0] == "pipeline" and len(parts) > 2 and parts[1] in STAGES:
                crossings.append(f"{path.relative_to(PROJECT_ROOT)} imports {module}")
    assert crossings == []


def test_every_stage_package_has_a_face_with_a_docstring() -> None:
    for stage in STAGES:
        face = PIPELINE / stage / "__init__.py"
        doc = ast.get_docstring(ast.parse(face.read_text(encoding="utf-8")))
        assert doc and "Takes" in doc and "gives" in doc, stage
