"""Without torch: scratchnn imports and works, and the torch comparisons skip cleanly."""

import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent
TORCH_FREE_RUN = [
    "test_generator.py", "test_mlp.py", "test_activations.py", "test_losses.py", "test_optimizers.py",
    "test_train.py", "test_gradcheck.py", "test_data.py", "test_bad_input.py", "test_torchref.py",
    "test_compare.py", "test_explain.py", "test_classification.py", "test_datasets.py", "test_diagnostics.py",
]
# test_exercises.py is left out: its own tests check without torch (test_without_torch_it_checks_against_scratchnns_engine,
# the solutions against scratchnn's engine), as test_grade's do, and running all 140 here again cost 9 s of the suite


def _run_without_torch(code):
    # None in sys.modules makes every `import torch` raise ImportError, as on a machine without torch
    return subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['torch'] = None\n" + code],
        capture_output=True, text=True, cwd=TESTS.parent, timeout=600,
    )


def test_import_scratchnn_does_not_import_torch():
    out = subprocess.run(
        [sys.executable, "-c", "import sys, scratchnn; print('torch' in sys.modules)"],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == "False"


def test_suite_passes_and_skips_cleanly_without_torch():
    files = [str(TESTS / f) for f in TORCH_FREE_RUN]
    r = _run_without_torch(f"import pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', *{files!r}]))")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert " skipped" in r.stdout and " passed" in r.stdout
    assert "failed" not in r.stdout
