"""The arithmetic of one row's move against torch's own optimizer step on a real run (every optimizer x variant)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import TrainConfig, Trainer
from core.arithmetic import agreement, row_move, row_state, state_only_moves
from core.optimizers import OPTIMIZERS

VARIANTS = {
    "plain": {},
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.9, "nesterov": True},
    "betas": {"beta1": 0.5, "beta2": 0.9},
    "weight_decay": {"weight_decay": 0.1},
    "max_norm": {"max_norm": 1.0},
    "tied": {"tie_weights": True},
    "padding": {"padding_idx": 0, "tie_weights": True},
    "sparse": {"sparse": True},
}


def allowed(name: str, variant: str) -> bool:
    spec = OPTIMIZERS[name]
    if variant in ("momentum", "nesterov"):
        return name == "sgd" or (name == "rmsprop" and variant == "momentum")
    if variant == "betas":
        return spec.uses_betas
    if variant in ("tied", "padding", "weight_decay"):
        return name != "sparse_adam"
    if variant == "sparse":
        return spec.sparse_ok and name != "sparse_adam"
    return True


CASES = [(n, v) for n in OPTIMIZERS for v in VARIANTS if allowed(n, v)]


def torch_row_grad(weight: torch.nn.Parameter, row: int) -> tuple[np.ndarray, bool, np.ndarray | None]:
    """The row's gradient as torch's autograd left it, whether a sparse gradient holds the row, and its parts."""
    grad = weight.grad
    if grad is None:
        return np.zeros(weight.shape[1], np.float32), False, None
    if grad.is_sparse:
        parts = grad._values()[grad._indices()[0] == row].numpy().copy()  # uncoalesced: batch order
        grad = grad.coalesce()
        where = (grad.indices()[0] == row).nonzero()
        if len(where) == 0:
            return np.zeros(weight.shape[1], np.float32), False, None
        return grad.values()[where[0, 0]].numpy().copy(), True, parts
    return grad[row].numpy().copy(), True, None


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_row_arithmetic_reproduces_torchs_step(name, variant):
    cfg = TrainConfig(vocab_size=40, dim=6, batch_size=16, optimizer=name, **VARIANTS[variant])
    trainer = Trainer(cfg)
    weight, exact = trainer.model.embedding.weight, trainer.device.type == "cpu"
    for step in range(6):
        states = [row_state(trainer.optimizers[0], weight, r) for r in range(cfg.vocab_size)]
        before = trainer.weight
        rec = trainer.step()
        after = trainer.weight
        looked = np.zeros(cfg.vocab_size, bool)
        looked[rec.input_ids] = True
        for row in range(cfg.vocab_size):
            grad, present, parts = torch_row_grad(weight, row)
            move = row_move(cfg, before[row], grad, states[row], bool(looked[row]), present, parts)
            got = agreement(move.w_after, after[row])
            if trainer.device.type == "cpu":  # the same float ops on the CPU: the same bits
                assert got.bitwise, (step, row, got)
                np.testing.assert_array_equal(move.move, after[row] - before[row])
            else:  # CUDA's foreach/fused kernels order and fuse ops differently: float32 rounding
                assert got.max_ulps <= 8, (step, row, got)
            torch_after = row_state(trainer.optimizers[0], weight, row)
            assert move.after.step == torch_after.step
            for slot, values in torch_after.slots.items():
                np.testing.assert_allclose(move.after.slots[slot], values, rtol=0 if exact else 1e-5, err_msg=slot)


def test_agreement_counts_float32_spacings():
    a = np.array([1.0, 2.0], np.float32)
    b = np.nextafter(a, np.float32(3))
    got = agreement(b, a)
    assert not got.bitwise and got.max_ulps == pytest.approx(1.0)
    assert agreement(a, a).bitwise


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop"])
def test_state_only_moves_decay_like_torchs_steps_without_gradient(name):
    cfg = TrainConfig(vocab_size=30, dim=4, optimizer=name, momentum=0.9 if name != "adam" else 0.0)
    trainer = Trainer(cfg)
    weight = trainer.model.embedding.weight
    trainer.run(3)
    row = int(trainer.history[-1].input_ids[0])
    state = row_state(trainer.optimizers[0], weight, row)
    w = trainer.weight[row]
    moves = state_only_moves(cfg, row_move(cfg, w, np.zeros(4, np.float32), state, False), 5)
    # torch's own: the same optimizer on a copy of the row, zero gradients for 6 steps
    p = torch.nn.Parameter(torch.tensor(w[None, :]))
    opt = type(trainer.optimizers[0])([p], **{k: v for k, v in trainer.optimizers[0].defaults.items()})
    opt.state[p] = {k: (v[row : row + 1].clone() if torch.is_tensor(v) and v.dim() == 2 else v.clone())
                    for k, v in trainer.optimizers[0].state[weight].items()}  # fmt: skip
    norms = []
    for _ in range(6):
        old = p.detach().clone()
        p.grad = torch.zeros_like(p)
        opt.step()
        norms.append(float(torch.linalg.vector_norm((p.detach() - old).double())))
    np.testing.assert_allclose(moves, norms[1:], rtol=1e-5, atol=1e-12)
    assert moves[-1] < moves[0]  # the buffers decay towards zero
