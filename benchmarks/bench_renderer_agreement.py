"""How often an episode's outcome depends on the software renderer: the README's default
run (192 tabletop cases) of each tiny policy, once with MuJoCo's EGL backend and once
with OSMesa, paired case by case.

    python benchmarks/bench_renderer_agreement.py [--policies tiny-vla tiny-wam] [--dir DIR]

The perturbation parameters and every seed are bit-exact across processes and machines
(tests/core/test_axes.py, tests/core/test_case_parameters.py); what may differ is the
last bits of the rendered pixels and of the policy's float arithmetic on them, and
through them a few episodes near a decision edge. This measures how many, and whether
the two renderers draw the same pixels here at all (a digest of three scenes' first
frames under each). Each run writes
`DIR/<policy>.<renderer>.xml` (and its printed output in `.log`); a file already there is
read instead of run again, so the four runs (~2-4 min each on 2 cores) can be made one
command at a time. The OSMesa run gates against the EGL one with `--wam-baseline`, and
`wamrobust compare` pairs the two files: a baseline from one renderer (or machine) must
not call a candidate from the other a regression out of this noise.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from pytest_wamrobust.core.judging.compare import NO_CHANGE
from pytest_wamrobust.core.model.results import EpisodeResult
from pytest_wamrobust.records.junit import read_results

RENDERERS = ("egl", "osmesa")
VERDICT = "wamrobust verdict:"
#: Prints a digest of the first frames (every camera) of three default cases' scenes.
FIRST_FRAMES = """
import hashlib
from pytest_wamrobust.core.model.registry import make_suite
from pytest_wamrobust.core.model.types import CaseKey
suite, digest = make_suite("tabletop"), hashlib.sha256()
for task, setting, level in (("lift_cube", "clean", 0), ("stack_cubes", "light", 5),
                             ("cube_in_bowl", "background", 3)):
    env = suite.make_env(suite.episode_spec(CaseKey("tabletop", task, setting, level, 0)))
    images = env.reset().images
    for name in sorted(images):
        digest.update(images[name].tobytes())
    env.close()
print(digest.hexdigest()[:16])
"""


def run_file(folder: Path, policy: str, renderer: str) -> Path:
    """The JUnit file of one (policy, renderer) run, running it first if it is not there."""
    xml = folder / f"{policy}.{renderer}.xml"
    if xml.exists():
        return xml
    baseline = folder / f"{policy}.{RENDERERS[0]}.xml"
    gate = [f"--wam-baseline={baseline}"] if renderer != RENDERERS[0] else []
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "-o", "junit_family=xunit1", f"--policy={policy}", "--suite=tabletop", "-n", "2",
           f"--junitxml={xml}", *gate]
    print(f"running {policy} with MUJOCO_GL={renderer} ...", flush=True)
    done = subprocess.run(cmd, cwd=folder, env=renderer_env(renderer), capture_output=True,
                          text=True, check=False)
    (folder / f"{policy}.{renderer}.log").write_text(done.stdout + done.stderr)
    if done.returncode not in (0, 1) or not xml.exists():
        sys.exit(f"pytest failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                 f"{done.stderr[-2000:]}")
    return xml


def renderer_env(renderer: str) -> dict[str, str]:
    return {**os.environ, "MUJOCO_GL": renderer, "PYOPENGL_PLATFORM": renderer}


def first_frames(renderer: str) -> str:
    """The digest of FIRST_FRAMES' images under one renderer: equal digests mean the two
    renderers draw the same pixels on this machine."""
    done = subprocess.run([sys.executable, "-c", FIRST_FRAMES], env=renderer_env(renderer),
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() or f"failed: {done.stderr.strip().splitlines()[-1:]}"


def verdict_line(folder: Path, policy: str, renderer: str) -> str:
    """The run's last `wamrobust verdict:` line, as it printed it ('' if not logged)."""
    log = folder / f"{policy}.{renderer}.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return next((line for line in reversed(lines) if line.startswith(VERDICT)), "")


def rate(results: list[EpisodeResult]) -> str:
    """Success of the perturbed episodes, the README's `overall` / Total."""
    perturbed = [r for r in results if r.key.setting != "clean"]
    solved = sum(r.success for r in perturbed)
    return f"{solved}/{len(perturbed)} = {100 * solved / len(perturbed):.1f}%"


def agreement(folder: Path, policy: str) -> bool:
    """Print one policy's pairing; True when `wamrobust compare` says no significant
    change and the gated run (if this call made it) passed its baseline."""
    files = {renderer: run_file(folder, policy, renderer) for renderer in RENDERERS}
    runs = {renderer: {r.key: r for r in read_results([xml])} for renderer, xml in files.items()}
    first, second = (runs[renderer] for renderer in RENDERERS)
    paired = sorted(first.keys() & second.keys())
    differ = [key for key in paired if first[key].success != second[key].success]
    print(f"\n{policy}: {len(paired)} cases paired "
          f"({len(first)} under {RENDERERS[0]}, {len(second)} under {RENDERERS[1]})")
    print(f"  outcomes equal: {len(paired) - len(differ)} of {len(paired)} "
          f"({100 * (len(paired) - len(differ)) / len(paired):.1f}%)")
    for key in differ:
        print(f"  differs: {key.case_id}: "
              + ", ".join(f"{renderer} {'solved' if runs[renderer][key].success else 'unsolved'}"
                          for renderer in RENDERERS))
    for renderer in RENDERERS:
        print(f"  overall under {renderer}: {rate(list(runs[renderer].values()))}")
    compare = subprocess.run(
        [sys.executable, "-m", "pytest_wamrobust", "compare", *map(str, files.values())],
        capture_output=True, text=True, check=False)
    said = [line for line in compare.stdout.splitlines() if line.startswith("Verdict:")]
    print(f"  wamrobust compare {' '.join(f.name for f in files.values())}: "
          f"{said[-1] if said else compare.stderr.strip()} (exit {compare.returncode})")
    gated = verdict_line(folder, policy, RENDERERS[1])
    if gated:
        print(f"  {RENDERERS[1]} run with --wam-baseline={files[RENDERERS[0]].name}: {gated}")
    compared_same = compare.returncode == 0 and bool(said) and NO_CHANGE in said[-1].lower()
    return compared_same and (not gated or gated.endswith("exit 0"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policies", nargs="+", default=["tiny-vla", "tiny-wam"])
    parser.add_argument("--dir", type=Path, default=Path(".cache/renderer-agreement"),
                        help="where the runs' JUnit files and logs are kept (and read from)")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    digests = {renderer: first_frames(renderer) for renderer in RENDERERS}
    print("first frames of 3 scenes: " + ", ".join(f"{r} {d}" for r, d in digests.items())
          + (" (identical pixels)" if len(set(digests.values())) == 1 else " (pixels differ)"))
    folder = args.dir.resolve()
    same = [agreement(folder, policy) for policy in args.policies]
    print(f"\nno significant change between renderers: {sum(same)} of {len(same)} policies")
    return 0 if all(same) else 1


if __name__ == "__main__":
    sys.exit(main())
