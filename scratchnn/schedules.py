r"""Learning-rate schedules that follow ``torch.optim.lr_scheduler``, number for number.

A schedule holds the optimizer whose ``lr`` it sets. As with torch, call ``step()`` once per
epoch, after that epoch's ``opt.step(D)`` calls (``scratchnn.fit(..., scheduler=sched)`` does)::

    for e in range(epochs):
        loss, D = net.loss_and_grad(X, Y); opt.step(D)    # epoch e trains with lr_e
        sched.step()                                       # lr_{e+1}

lr_0 is ``opt.lr`` when the schedule is built (``base_lr``), and ``last_epoch`` counts the
``step()`` calls, so after e of them ``opt.lr`` is lr_e. Each step computes lr_e from
lr_{e-1}, recursively, exactly as torch 2.13's ``get_lr`` does (not from the closed form,
which differs in the last bits), so the learning rates are torch's, bit for bit:

StepLR(opt, step_size, gamma=0.1)::

    lr_e = gamma lr_{e-1}  if e is a multiple of step_size, else lr_{e-1}       (= lr_0 gamma^floor(e / step_size))

ExponentialLR(opt, gamma)::

    lr_e = gamma lr_{e-1}                                                        (= lr_0 gamma^e)

CosineAnnealingLR(opt, T_max, eta_min=0) (Loshchilov & Hutter 2017, SGDR without restarts)::

    lr_e = eta_min + (lr_{e-1} - eta_min) (1 + cos(pi e / T_max)) / (1 + cos(pi (e - 1) / T_max))
    lr_e = lr_{e-1} + (lr_0 - eta_min) (1 - cos(pi / T_max)) / 2     when (e - 1 - T_max) is a multiple of 2 T_max

The second line stands in where the first would divide by 1 + cos(pi) = 0. In exact arithmetic
both give lr_e = eta_min + (lr_0 - eta_min) (1 + cos(pi e / T_max)) / 2: half a cosine from lr_0
down to eta_min at e = T_max, then (if the fit goes on) back up, with period 2 T_max.
"""

import math

from .checks import check_int, check_real
from .optimizers import Optimizer


class Schedule:
    """What every schedule shares: the optimizer whose ``lr`` it sets, lr_0 (``base_lr``) and ``last_epoch``."""

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer: expected a scratchnn optimizer (e.g. Adam(net.theta)), "
                            f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0  # torch's count after the step its constructor takes (which leaves lr as it is)

    def step(self):
        """One epoch on: set ``optimizer.lr`` to lr_e for the next epoch, e = ``last_epoch`` + 1."""
        self.last_epoch += 1
        self.optimizer.lr = self._next_lr(self.optimizer.lr, self.last_epoch)

    def _next_lr(self, lr, e):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(epoch {self.last_epoch}, lr {self.optimizer.lr:.6g})"


class StepLR(Schedule):
    """lr times ``gamma`` every ``step_size`` epochs (``torch.optim.lr_scheduler.StepLR``)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        super().__init__(optimizer)
        self.step_size = check_int("step_size", step_size, 1)
        self.gamma = check_real("gamma", gamma, low=0.0, low_open=True)

    def _next_lr(self, lr, e):
        return lr * self.gamma if e % self.step_size == 0 else lr


class ExponentialLR(Schedule):
    """lr times ``gamma`` every epoch (``torch.optim.lr_scheduler.ExponentialLR``)."""

    def __init__(self, optimizer, gamma):
        super().__init__(optimizer)
        self.gamma = check_real("gamma", gamma, low=0.0, low_open=True)

    def _next_lr(self, lr, e):
        return lr * self.gamma


class CosineAnnealingLR(Schedule):
    """Half a cosine from lr_0 down to ``eta_min`` over ``T_max`` epochs (``lr_scheduler.CosineAnnealingLR``)."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        super().__init__(optimizer)
        self.T_max = check_int("T_max", T_max, 1)
        self.eta_min = check_real("eta_min", eta_min, low=0.0)

    def _next_lr(self, lr, e):
        # torch's get_lr, term for term and in its order of operations
        if (e - 1 - self.T_max) % (2 * self.T_max) == 0:
            return lr + (self.base_lr - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
        return ((1 + math.cos(math.pi * e / self.T_max)) / (1 + math.cos(math.pi * (e - 1) / self.T_max))
                * (lr - self.eta_min) + self.eta_min)
