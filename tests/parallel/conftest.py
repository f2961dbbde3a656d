"""The batch tests drive ``inferopt batch run`` with the kill-and-resume benchmark's helpers.

They live in ``benchmarks/parallel/resume.py`` (the benchmark runs the same experiment at full
size); loading it here, once, as the module ``benchmark_resume`` lets every test file import them.
"""

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "parallel" / "resume.py"
if "benchmark_resume" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("benchmark_resume", _PATH)
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = _module  # dataclasses look their module up while the class is built
    _spec.loader.exec_module(_module)
