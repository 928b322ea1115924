"""Ray glue: the same per-clip work as the single-machine run, spread over a Ray cluster.

Two uses, both optional (the ``[cluster]`` extra: ``pip install 'forensics-gui[cluster]'``):

- :func:`ray_map` is a ``map_clips`` for :func:`forensics_gui.core.audit.run_audit`: it runs the
  audit's one per-clip function (``clip_cues``) as Ray tasks, a few clips per task, and yields
  ``(path, row)`` as the tasks finish, so the audit streams them into its resumable table exactly
  as it does the local results.
- :func:`analyze_many_on_ray` is the Ray form of :meth:`forensics_gui.core.pipeline.Analyzer.
  analyze_many` for ``batch``: a few long-lived Ray actors ("scorers"), each with one GPU when
  the cluster has GPUs (else a few CPU cores), each loading the models ONCE and then analysing
  clips with the same :class:`~forensics_gui.core.pipeline.Analyzer` code; it yields the same
  :class:`~forensics_gui.core.pipeline.Prefetched` items, in the order clips finish.

Where: :func:`ray_session` connects. ``"auto"`` joins the Ray cluster this machine belongs to
(``RAY_ADDRESS``, or the one ``ray start`` started here) and otherwise starts a private Ray
instance on this machine for the run (all its cores and GPUs); any other value is the address
of a running cluster (``HOST:6379``, the head's address, from a machine of the cluster; Ray's
client mode, ``ray://``, is not supported). Every node must see the clips and the models at the
same paths (a shared or copied file system) and have forensics-gui installed in the same Python
environment. A cluster with token authentication (Ray 2.60's default for ``ray start``) needs
``RAY_AUTH_MODE=token`` and the head's token where the command runs.

Ray is imported lazily: without it, a clear sentence says how to install it. Work is handed out
in a bounded window (a few tasks per CPU/scorer), so a million-clip dataset does not create a
million pending tasks, and closing the generator early cancels what is still queued.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from forensics_gui.core.errors import ForensicsError
from forensics_gui.core.progress import Progress, check_cancelled

INSTALL_HINT = "pip install 'forensics-gui[cluster]'"
RAY_HELP = ("run on Ray: 'auto' = the Ray cluster this machine belongs to (started with 'ray "
            "start'), else a local Ray instance for this run; or the ADDRESS of a cluster's head "
            "(HOST:6379, from one of its machines). Every node needs the clips and models at the "
            f"same paths. Needs the cluster extra: {INSTALL_HINT}")
CLIPS_PER_TASK = 16
"""Clips per audit task: big enough that Ray's per-task cost (~1 ms) is small next to the work,
small enough that a cancelled or resumed run loses little."""
TASKS_PER_CPU = 3
"""In-flight tasks per CPU of the cluster (keeps every worker busy while results stream back)."""
CPUS_PER_SCORER = 4
"""CPU cores per scorer actor when the cluster has no GPU (PyTorch's threads in that actor)."""
READY_TIMEOUT_S = 600.0
"""How long the scorers may take to start (load the models) before the run gives up."""
ENV_PASSED = ("FORENSICS_GUI_CACHE", "FORENSICS_GUI_MODELS", "FORENSICS_GUI_DATA")
"""The app's folder settings, passed to the workers when this process has them set."""


def require_ray() -> Any:
    """The ``ray`` module, or a ForensicsError that says how to install it."""
    try:
        import ray
    except ImportError as err:
        raise ForensicsError(
            f"Running on a Ray cluster needs Ray, which is not installed ({err}); install it with "
            f"{INSTALL_HINT}") from None
    return ray


def _runtime_env() -> dict[str, Any]:
    env = {k: os.environ[k] for k in ENV_PASSED if os.environ.get(k)}
    return {"env_vars": env} if env else {}


@contextlib.contextmanager
def ray_session(address: str) -> Iterator[Any]:
    """Connect to Ray for one run (see the module docstring for ``address``); yields ``ray``.

    A Ray already initialised in this process (a test's local instance, a notebook) is used as
    it is and left running; a connection made here is closed at the end.
    """
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    address = (address or "auto").strip()
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if address != "auto":
        kwargs["address"] = address
    else:
        kwargs["include_dashboard"] = False
    env = _runtime_env()
    if env:
        kwargs["runtime_env"] = env
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as err:
        where = "a local Ray instance" if address == "auto" else f"the Ray cluster at {address}"
        raise ForensicsError(
            f"Could not connect to {where} ({_plain(err, 300)}). Start a cluster with 'ray start "
            "--head' on one machine and 'ray start --address=HEAD:6379' on the others, then give "
            "that address (or 'auto' on one of its machines); a cluster with token "
            "authentication (Ray's default) also needs RAY_AUTH_MODE=token and its token here "
            "(README, 'On a Ray cluster').") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _plain(err: BaseException, limit: int) -> str:
    """An exception's text on one line, without terminal colour codes, at most ``limit`` chars."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err) or type(err).__name__)
    return " ".join(text.split())[:limit]


def cluster_resources(ray: Any) -> tuple[int, int]:
    """(CPUs, GPUs) of the cluster, whole numbers, at least one CPU."""
    res = ray.cluster_resources()
    return max(1, int(res.get("CPU", 1))), int(res.get("GPU", 0))


def node_cpus(ray: Any) -> list[int]:
    """Whole CPUs of each live node (a scorer must fit on one node)."""
    out = [int(n.get("Resources", {}).get("CPU", 0)) for n in ray.nodes() if n.get("Alive", True)]
    return [c for c in out if c > 0] or [1]


# -- the audit: one function over many clips -------------------------------------------------

def _run_chunk(func: Callable[[str], Any], paths: list[str]) -> list[tuple[str, Any]]:
    """One Ray task: ``func`` on each path, in order (``func`` never raises for a bad clip)."""
    return [(p, func(p)) for p in paths]


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i:i + size])


def ray_map(address: str = "auto", *, clips_per_task: int = CLIPS_PER_TASK,
            progress: Progress | None = None
            ) -> Callable[[Callable[[str], Any], Iterable[str]], Iterator[tuple[str, Any]]]:
    """A ``map_clips(func, paths)`` that runs ``func`` on Ray; yields ``(path, result)`` as the
    tasks finish (any order). ``func`` must be a module-level function (it is sent by name) that
    never raises for a bad clip. ``progress``: cancellation is also checked while waiting."""

    def map_clips(func: Callable[[str], Any], paths: Iterable[str]) -> Iterator[tuple[str, Any]]:
        items = [str(p) for p in paths]
        if not items:
            return
        with ray_session(address) as ray:
            yield from _stream(ray, func, items, max(1, clips_per_task), progress)

    return map_clips


def _stream(ray: Any, func: Callable[[str], Any], items: list[str], size: int,
            progress: Progress | None) -> Iterator[tuple[str, Any]]:
    cpus, _ = cluster_resources(ray)
    # small datasets: spread over every CPU rather than filling a few tasks
    size = max(1, min(size, -(-len(items) // cpus)))
    task = ray.remote(num_cpus=1, max_retries=2)(_run_chunk)
    func_ref = ray.put(func)
    chunks = _chunks(items, size)
    window = max(2, TASKS_PER_CPU * cpus)
    pending: list[Any] = []
    try:
        while True:
            while len(pending) < window:
                chunk = next(chunks, None)
                if chunk is None:
                    break
                pending.append(task.remote(func_ref, chunk))
            if not pending:
                return
            done, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            check_cancelled(progress)
            for ref in done:
                yield from _get(ray, ref)
    finally:
        for ref in pending:  # closed early (cancel, Ctrl+C, an error): drop what is queued
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)


def _get(ray: Any, ref: Any) -> list[Any]:
    """``ray.get`` with Ray's own failures turned into one sentence."""
    try:
        return list(ray.get(ref))
    except Exception as err:
        if isinstance(err, ForensicsError):
            raise
        raise ForensicsError(
            "A Ray worker failed (" + _plain(err, 400) + "); the results "
            "received so far are kept: run the same command again to continue.") from None


# -- batch: scorer actors, each loading the models once --------------------------------------

class Scorer:
    """A Ray actor (made remote by :func:`analyze_many_on_ray`): one Analyzer, models loaded
    once, then :meth:`score` per clip. A clip's failure is returned, not raised."""

    def __init__(self, options: Any, threads: int | None = None) -> None:
        from forensics_gui.core.pipeline import Analyzer

        if threads:
            import torch

            torch.set_num_threads(threads)
        self.analyzer = Analyzer(options)
        self.load_error: BaseException | None = None
        try:
            self.analyzer.load_models()
            _ = self.analyzer.cache
        except ForensicsError as err:  # a missing/unsafe checkpoint on this node: said by ready()
            self.load_error = err

    def ready(self) -> BaseException | None:
        """None once the models are loaded, else the error that stopped them."""
        return self.load_error

    def score(self, index: int, path: str) -> Any:
        from forensics_gui.core.pipeline import CLIP_ERRORS, Prefetched

        item = Path(path)
        try:
            analysis = self.analyzer.analyze(item)
        except CLIP_ERRORS as err:
            return Prefetched(index, item, None, err)
        # what batch writes, without the bulky per-frame pictures (sent back over the network)
        return Prefetched(index, item, dataclasses.replace(analysis, roi_gray=None, face=None), None)


def scorer_plan(cpus: int, gpus: int, workers: int | None = None,
                nodes: Sequence[int] | None = None) -> tuple[int, dict[str, float], int]:
    """(number of scorers, Ray resources of each, PyTorch threads of each) for a cluster.

    GPUs: one scorer per GPU (one GPU each). Otherwise one per CPUS_PER_SCORER cores, at least
    one. ``workers`` overrides the number (GPU scorers then share GPUs in equal fractions).
    ``nodes``: CPUs of each node; no scorer asks for more than one node has, and no more
    scorers are planned than fit, so none waits forever for room."""
    nodes = list(nodes or [cpus])
    if gpus > 0:
        n = workers or gpus
        return n, {"num_gpus": 1.0 / -(-n // gpus), "num_cpus": 1}, 0
    per = max(1, min(CPUS_PER_SCORER, cpus // workers)) if workers else CPUS_PER_SCORER
    per = min(per, max(nodes))
    fit = sum(c // per for c in nodes)
    return max(1, min(workers or fit, fit)), {"num_cpus": per}, per


def analyze_many_on_ray(options: Any, paths: Sequence[str | os.PathLike[str]], *,
                        address: str = "auto", workers: int | None = None,
                        progress: Progress | None = None,
                        on_start: Callable[[str], None] | None = None,
                        ) -> Generator[Any, None, None]:
    """Analyse ``paths`` on Ray scorer actors; yields one
    :class:`~forensics_gui.core.pipeline.Prefetched` per clip (``value`` a ClipAnalysis without
    its ROI frames and face track, or ``error``), in the order they finish.

    ``on_start(sentence)`` hears where the run goes (scorers, GPUs). A model that cannot be loaded
    raises its CheckpointError before any clip is scored. Cancellation via ``progress``; closing
    the generator stops the scorers.
    """
    items = [str(p) for p in paths]
    if not items:
        return
    with ray_session(address) as ray:
        cpus, gpus = cluster_resources(ray)
        n, resources, threads = scorer_plan(cpus, gpus, workers, node_cpus(ray))
        n = min(n, len(items))
        actor_cls = ray.remote(**resources)(Scorer)
        actors = [actor_cls.remote(options, threads or None) for _ in range(n)]
        try:
            if on_start is not None:
                kind = "GPU" if gpus else "CPU"
                on_start(f"Ray: {n} scorer{'s' if n != 1 else ''} on {cpus} CPUs"
                         f"{f' and {gpus} GPUs' if gpus else ''} ({kind}), each loading the "
                         "models once.")
            for err in _all(ray, [a.ready.remote() for a in actors], progress):
                if err is not None:
                    raise err
            yield from _score_stream(ray, actors, items, progress)
        finally:
            for actor in actors:
                with contextlib.suppress(Exception):
                    ray.kill(actor)


def _all(ray: Any, refs: list[Any], progress: Progress | None = None) -> list[Any]:
    """Every result of ``refs``, waiting at most READY_TIMEOUT_S (and stopping on Cancel)."""
    waited = 0.0
    pending = list(refs)
    while pending:
        _, pending = ray.wait(pending, num_returns=len(pending), timeout=1.0)
        check_cancelled(progress)
        waited += 1.0
        if pending and waited >= READY_TIMEOUT_S:
            raise ForensicsError(
                f"{len(pending)} of the {len(refs)} Ray scorers did not start within "
                f"{READY_TIMEOUT_S / 60:.0f} minutes (the cluster has no room for them, or a node "
                "cannot load the models); try fewer with --ray-workers, and see 'ray status'.")
    try:
        return list(ray.get(refs))
    except Exception as err:
        if isinstance(err, ForensicsError):
            raise
        raise ForensicsError("The Ray scorers could not start (" + _plain(err, 400)
                             + "); check that forensics-gui is installed on every node.") from None


def _score_stream(ray: Any, actors: list[Any], items: list[str],
                  progress: Progress | None) -> Iterator[Any]:
    queue = iter(enumerate(items))
    busy: dict[Any, Any] = {}  # ref -> actor; two clips queued per actor keeps it fed
    free = [a for a in actors for _ in range(2)]
    while True:  # on an early close the caller kills the actors, and their queued clips
        while free:
            nxt = next(queue, None)
            if nxt is None:
                break
            actor = free.pop()
            busy[actor.score.remote(nxt[0], nxt[1])] = actor
        if not busy:
            return
        done, _ = ray.wait(list(busy), num_returns=1, timeout=0.5)
        check_cancelled(progress)
        for ref in done:
            free.append(busy.pop(ref))
            yield _get_one(ray, ref)


def _get_one(ray: Any, ref: Any) -> Any:
    try:
        return ray.get(ref)
    except Exception as err:
        raise ForensicsError(
            "A Ray scorer failed (" + _plain(err, 400) + "); the rows written so "
            "far are kept: run the same command again to continue.") from None
