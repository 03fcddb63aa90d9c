"""The Clockwork RNN (Koutnik, Greff, Gomez, Schmidhuber, ICML 2014), exactly as the paper defines it.

Hidden units are split into modules sorted by clock period T_1 < ... < T_g. At step t (counting from
0) module i updates iff t % T_i == 0; otherwise it holds its value. Recurrent connections run from
slower modules to faster ones: in column convention (row = target unit) W_H is block-upper-triangular.

Only the rows of active modules are computed at each step. When every period divides the next (the
paper's 1, 2, 4, ...) the active modules form a prefix of the fast ones and a step is one matmul on a
contiguous slice of rows; with other schedules, steps whose active modules are not such a prefix
gather their rows by index.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .. import clock
from . import kernels
from .ensemble import Stacked, StackedLinear, initialise, seed_list
from .kernel_scan import ClockworkKernelScan
from .scan import ClockworkScan, StepPlan


class ScannedCore(Stacked):
    """What every recurrent core shares: forward, and read (its states and a readout of every step, as
    SequenceModel asks for them). A core implements ``_scan(x, h0, steps, batch_size, readout)``, which
    returns its time-major states (T, R, B, n) and the readout's output where the compiled kernels computed
    it inside the scan (kernel_scan.py), else None."""

    def forward(
        self,
        x: torch.Tensor | None = None,
        h0: torch.Tensor | None = None,
        *,
        steps: int | None = None,
        batch_size: int = 1,
    ):
        return _outputs(self, self._scan(x, h0, steps, batch_size)[0])

    def read(self, readout: StackedLinear, x=None, *, steps=None, batch_size=1):
        """(readout(hidden), hidden), hidden being what forward returns first."""
        out, y = self._scan(x, None, steps, batch_size, readout)
        hidden = _outputs(self, out)[0]
        if y is None:
            return readout(hidden), hidden
        if not self.batch_first:  # the kernels' y is (R, B, T, O), as readout(hidden) is when batch_first
            y = y.transpose(1, 2)
        return readout.unstack(y), hidden


class ClockworkRNN(ScannedCore):
    """h_t[active] = tanh(W_H[active] h_{t-1} + W_I[active] x_t + b[active]); held modules keep h_{t-1}.

    Call as ``out, h_n = rnn(x, h0)`` with x of shape (batch, time, input_size) (batch_first) and
    ``out`` (batch, time, n) holding every step's hidden state; h0 is (batch, n), zeros when omitted.
    With ``input_size=0`` there is no input: call ``rnn(steps=T, batch_size=B)``. With ``num_seeds=R``
    the module holds R independent networks; then x may be (R, batch, time, input) or shared (batch,
    time, input), h0 is (R, batch, n), and outputs gain a leading R. With ``batch_first=False`` the
    batch and time dimensions of x and out swap places.

    Every call starts the clock at t = 0, where every module fires: a sequence split over several
    calls (h_n passed on as h0) is therefore not the same as the whole sequence in one call.

    Periods must be distinct positive integers in ascending order (module 1 is the fastest); unsorted or
    repeated periods raise ValueError rather than being reordered behind the caller's back.

    The readable definition is `cwrnn.models.reference.naive_cwrnn`, the paper's equations written out
    unit by unit; the tests hold this fast version to it. docs/conventions.md lists the conventions.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int | None = None,
        *,
        num_modules: int | None = None,
        module_sizes: Sequence[int] | None = None,
        periods: Sequence[int] | None = None,
        connectivity: str = "slow_to_fast",
        batch_first: bool = True,
        num_seeds: int | None = None,
        seeds: Sequence[int] | None = None,
        init: str = "paper",
    ):
        super().__init__(num_seeds)
        if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 0:
            raise ValueError(f"input_size must be a non-negative integer, got {input_size!r}")
        self.module_sizes = self._resolve_sizes(hidden_size, num_modules, module_sizes, periods)
        g = len(self.module_sizes)
        self.periods = clock.check_periods(periods if periods is not None else clock.schedule("exponential", g))
        if len(self.periods) != g:
            raise ValueError(f"got {len(self.periods)} periods for {g} modules")
        clock.block_mask(1, connectivity)  # validates the name
        self.connectivity = connectivity
        self.input_size, self.hidden_size, self.batch_first = input_size, sum(self.module_sizes), batch_first
        n = self.hidden_size
        self.W_H = self.new_param(n, n)
        self.W_I = self.new_param(n, input_size)
        self.b = self.new_param(n)
        self.register_buffer(
            "mask", torch.from_numpy(clock.unit_mask(self.module_sizes, connectivity)), persistent=False
        )
        self.module_start = np.concatenate([[0], np.cumsum(self.module_sizes)]).tolist()
        self.seeds = seed_list(num_seeds, seeds)
        self._plans: dict[tuple[int, str], StepPlan] = {}
        initialise(self, self.seeds, init)

    @staticmethod
    def _resolve_sizes(hidden_size, num_modules, module_sizes, periods) -> list[int]:
        if module_sizes is not None:
            sizes = [int(k) for k in module_sizes]
            if any(k < 1 for k in sizes):
                raise ValueError(f"module sizes must be positive integers, got {list(module_sizes)}")
            if hidden_size is not None and hidden_size != sum(sizes):
                raise ValueError(f"hidden_size {hidden_size} does not equal sum(module_sizes) = {sum(sizes)}")
            if num_modules is not None and num_modules != len(sizes):
                raise ValueError(f"num_modules {num_modules} does not match {len(sizes)} module sizes")
            return sizes
        if hidden_size is None:
            raise ValueError("give hidden_size (with num_modules or periods) or module_sizes")
        if num_modules is None:
            num_modules = len(periods) if periods is not None else 1
        return clock.split_units(int(hidden_size), int(num_modules))

    def after_init(self) -> None:
        with torch.no_grad():
            self.W_H.mul_(self.mask)

    # -- the clock -------------------------------------------------------------------------------
    def active_modules(self, t: int) -> list[int]:
        """Indices of the modules that update at step t."""
        return [i for i, T in enumerate(self.periods) if t % T == 0]

    def activity(self, steps: int) -> np.ndarray:
        """(num_modules, steps) bool mask of which modules update at each step of a forward pass."""
        return clock.active_mask(self.periods, steps)

    def _plan(self, steps: int, device) -> StepPlan:
        """Which units update at each step, grouped by activity pattern (see scan.StepPlan).

        Cached per (steps, device): training calls forward with the same length every epoch."""
        key = (steps, str(device))
        if key not in self._plans:
            self._plans[key] = self._make_plan(steps, device)
        return self._plans[key]

    def _make_plan(self, steps: int, device) -> StepPlan:
        patterns: dict[tuple[int, ...], int] = {}
        rows, members, order, flat, starts = [], [], [], [], [0]
        for t in range(steps):
            active = tuple(self.active_modules(t))
            flat += active
            starts.append(len(flat))
            if active not in patterns:
                patterns[active] = len(rows)
                if active == tuple(range(len(active))):
                    rows.append(self.module_start[len(active)])
                else:
                    idx = [u for i in active for u in range(self.module_start[i], self.module_start[i + 1])]
                    rows.append(torch.tensor(idx, device=device))
                members.append([])
            p = patterns[active]
            order.append((p, len(members[p])))
            members[p].append(t)
        return StepPlan(
            tuple(rows),
            tuple(torch.tensor(m, device=device) for m in members),
            tuple(order),
            torch.tensor(flat, dtype=torch.int32),
            torch.tensor(starts, dtype=torch.int64),
            torch.tensor(self.module_start, dtype=torch.int64),
            torch.tensor(self._reads(), dtype=torch.int64),
        )

    def _reads(self) -> list[tuple[int, int]]:
        """Per module, the first and past-the-last unit its rows of W_H read: the modules that feed it, which
        for every connectivity are one contiguous span (never empty: a module feeds itself), so that the
        mask is exactly these spans."""
        spans = []
        for row in clock.block_mask(len(self.module_sizes), self.connectivity):
            sources = np.flatnonzero(row)
            spans.append((self.module_start[sources[0]], self.module_start[sources[-1] + 1]))
        return spans

    # -- weights in the paper's column convention -------------------------------------------------
    def dense_weights(self) -> dict[str, torch.Tensor]:
        """W_H (n, n), W_I (n, input_size), b (n,): row = target unit; absent connections exactly zero."""
        with torch.no_grad():
            return {"W_H": (self.W_H * self.mask).clone(), "W_I": self.W_I.clone(), "b": self.b.clone()}

    def load_dense_weights(self, W_H=None, W_I=None, b=None, *, strict: bool = True) -> None:
        """Set weights from column-convention arrays.

        Entries of W_H outside the allowed block structure must be zero when ``strict`` (the default);
        otherwise ValueError says how many are not. With ``strict=False`` they are set to zero.
        """
        with torch.no_grad():
            for name, value in (("W_H", W_H), ("W_I", W_I), ("b", b)):
                if value is None:
                    continue
                param = getattr(self, name)
                value = torch.as_tensor(value, dtype=param.dtype, device=param.device)
                if value.shape != param.shape:
                    raise ValueError(f"{name} must have shape {tuple(param.shape)}, got {tuple(value.shape)}")
                if name == "W_H":
                    outside = int(((value != 0) & ~self.mask).sum())
                    if outside and strict:
                        raise ValueError(
                            f"W_H has {outside} non-zero entries where {self.connectivity} "
                            "connectivity allows none; pass strict=False to zero them"
                        )
                    value = value * self.mask
                param.copy_(value)

    # -- forward (ScannedCore's forward and read) --------------------------------------------------
    def _scan(self, x, h0, steps, batch_size, readout: StackedLinear | None = None):
        """(time-major states, y): y is the readout's output where the compiled kernels computed it inside
        the scan, else None."""
        # The kernels read each module's rows only over the units that feed it (the plan's spans, which are
        # the mask's blocks), so they take W_H as it is: the mask's product and its gradient cost 3 % of an
        # Experiment 1 epoch.
        on_kernels = kernels.usable(self.W_H, self.hidden_size)
        W = self.stack(self.W_H if on_kernels else self.W_H * self.mask)
        x, steps, B = _prepare_input(self, x, steps, batch_size)
        h = _prepare_h0(self, h0, B, W)
        args = (W, self.stack(self.W_I), self.stack(self.b), x, h, self._plan(steps, W.device))
        if on_kernels:
            return ClockworkKernelScan.apply(*args, *_readout_weights(readout))
        return ClockworkScan.apply(*args), None


def _readout_weights(readout: StackedLinear | None) -> tuple:
    """A readout's weights (R, O, n) and bias (R, O) for the kernels; (None, None) without one."""
    if readout is None:
        return None, None
    return readout.stack(readout.weight), readout.stack(readout.bias)


def _prepare_input(model, x, steps, batch_size):
    """Bring x to (R, B, T, I); work out T and B. Shared by every recurrent model."""
    R = model.members
    if x is None:
        if model.input_size:
            raise ValueError(
                f"this network has input_size={model.input_size}: pass x of shape (batch, time, input_size)"
            )
        if steps is None or steps < 1:
            raise ValueError("a network without input needs steps >= 1 (rnn(steps=T, batch_size=B))")
        return None, int(steps), int(batch_size)
    if not model.batch_first:
        x = x.transpose(-3, -2)
    if x.dim() == 3:
        x = x.unsqueeze(0).expand(R, *x.shape)
    elif x.dim() != 4 or not model.stacked or x.shape[0] != R:
        raise ValueError(
            f"x must be (batch, time, {model.input_size})"
            + (f" or ({R}, batch, time, {model.input_size})" if model.stacked else "")
            + f", got {tuple(x.shape)}"
        )
    if x.shape[-1] != model.input_size:
        raise ValueError(f"x has {x.shape[-1]} input features, the network expects {model.input_size}")
    if x.shape[2] < 1 or x.shape[1] < 1:
        raise ValueError(f"x needs at least one sequence and one time step, got shape {tuple(x.shape)}")
    if steps is not None and steps != x.shape[2]:
        raise ValueError(f"steps={steps} disagrees with x's {x.shape[2]} time steps")
    return x.to(model.W_H.dtype), x.shape[2], x.shape[1]


def _outputs(model, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(out, h_n) from a scan's time-major (T, R, B, n) states, in the caller's layout.

    The (R, B, T, n) view is taken here, outside the scan's Function, so that it is an ordinary
    autograd view (a view returned by a Function refuses in-place changes)."""
    out = out.permute(1, 2, 0, 3)
    h_n = out[:, :, -1]
    if not model.batch_first:
        out = out.transpose(1, 2)
    return model.unstack(out), model.unstack(h_n)


def _prepare_h0(model, h0, B, like: torch.Tensor):
    R, n = model.members, model.hidden_size
    if h0 is None:
        return like.new_zeros(R, B, n)
    h0 = h0 if model.stacked else h0.unsqueeze(0)
    if h0.shape != (R, B, n):
        want = (R, B, n) if model.stacked else (B, n)
        raise ValueError(f"h0 must have shape {want}, got {tuple(h0.shape)}")
    return h0.to(like.device, like.dtype)
