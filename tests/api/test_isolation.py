import json
import subprocess
import sys

FORBIDDEN = (
    "workers",
    "dlib",
    "_dlib_pybind11",
    "face_recognition",
    "face_recognition_models",
    "cv2",
)


def test_importing_the_api_loads_no_face_library() -> None:
    code = (
        "import json, sys; import api.main; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_the_api_source_never_imports_the_worker_side() -> None:
    from pathlib import Path

    import api

    offenders = []
    for path in Path(api.__file__).parent.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            words = line.split()
            if (
                len(words) >= 2
                and words[0] in ("import", "from")
                and words[1].split(".")[0] in FORBIDDEN
            ):
                offenders.append(f"{path}:{number}: {line.strip()}")
    assert offenders == []
