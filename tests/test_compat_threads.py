"""8 threads making the first use of the registry at once get correct, identical results.

The race only exists while nothing is loaded yet, so the threads run in a fresh
interpreter (the test process has long since warmed its registry).  Each thread starts
through a different door (a call form, ``get_surrogate``, a listing) at the same
instant, with a tiny GIL switch interval to interleave them as much as possible.
"""

from __future__ import annotations

from .compat_matrix import feature
from .compat_support import run_fresh_python
from .conftest import registered_pairs

THREADS = 8

_SCRIPT = """
import json, sys, threading
import torch
import sc_neurocore
from sc_neurocore import default_registry
from sc_neurocore.paths import custom_op
from sc_neurocore.training import surrogate as forms

THREADS = int(sys.argv[1])
assert not default_registry.snapshot.loaded, "registry already loaded: the test would prove nothing"
sys.setswitchinterval(1e-6)
barrier = threading.Barrier(THREADS)
results, errors = [None] * THREADS, []
X = torch.linspace(-2, 2, 17, dtype=torch.float64)


def spike_and_grad(f):
    x = X.clone().requires_grad_(True)
    y = f(x)
    y.backward(torch.ones_like(y))
    return y.tolist(), x.grad.tolist()


def first_touch(index):
    kind = index % 3
    if kind == 0:
        return spike_and_grad(forms.atan_surrogate_legacy if index % 2 else forms.atan_surrogate)
    if kind == 1:
        return spike_and_grad(sc_neurocore.get_surrogate("sigmoid", "custom_op"))
    return sc_neurocore.list_surrogates()


def work(index):
    try:
        barrier.wait()
        first_touch(index)
        out = {}
        for surrogate in sc_neurocore.list_surrogates():
            for path in sc_neurocore.list_paths():
                if default_registry.coverage(surrogate, path)[0]:
                    out[surrogate + "@" + path] = spike_and_grad(
                        sc_neurocore.get_surrogate(surrogate, path)
                    )
        for name in forms.CALL_FORM_NAMES:
            for suffix in ("", "_custom_op", "_legacy"):
                out[name + suffix] = spike_and_grad(getattr(forms, name + suffix))
        results[index] = out
    except BaseException as error:
        errors.append(f"thread {index}: {type(error).__name__}: {error}")


threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()

wrong = []
if not errors:
    for key, (spike, grad) in results[0].items():
        name = forms.CALL_FORM_NAMES.get(key.removesuffix("_custom_op").removesuffix("_legacy"))
        spec = sc_neurocore.get_spec(name or key.split("@")[0])
        if spike != (X > 0).double().tolist():
            wrong.append(key + ": forward")
        expected = spec.grad(X, **spec.defaults).expand_as(X)
        if not torch.allclose(torch.tensor(grad, dtype=torch.float64), expected):
            wrong.append(key + ": gradient")
print(json.dumps({
    "errors": errors,
    "identical": not errors and all(r == results[0] for r in results),
    "wrong": wrong,
    "keys": 0 if errors else len(results[0]),
    "operators_defined": sorted(custom_op._built),
}))
"""


@feature("threads")
def test_eight_threads_first_use_concurrently() -> None:
    report = run_fresh_python(_SCRIPT, str(THREADS))
    assert report["errors"] == []
    assert report["identical"] is True
    assert report["wrong"] == []
    # Every pair plus the 18 call forms was exercised.
    assert report["keys"] == len(registered_pairs()) + 18
    # Each operator defined once: a race would have produced a suffixed duplicate.
    on_custom_op = [surrogate for surrogate, path in registered_pairs() if path == "custom_op"]
    assert report["operators_defined"] == sorted(on_custom_op)
