"""rnnbench.deepbench problem lists and rnnbench.flops FLOP counts."""
from collections import Counter

import pytest

from rnnbench import deepbench as db
from rnnbench.flops import (
    CONVENTIONS, DEEPBENCH_KIND, KINDS, PHASES, deepbench_flops, full_flops,
    phase_flops, problem_flops,
)

LISTS = {"TRAIN": db.TRAIN, "INFER_SERVER": db.INFER_SERVER, "INFER_DEVICE": db.INFER_DEVICE}


# --------------------------------------------------------------- problem lists

def test_list_counts_match_header():
    assert len(db.TRAIN) == 53
    assert len(db.INFER_SERVER) == 69
    assert len(db.INFER_DEVICE) == 3


@pytest.mark.parametrize("name", LISTS)
def test_entries_well_formed(name):
    for p in LISTS[name]:
        assert isinstance(p, db.Problem)
        for v in (p.hidden, p.batch, p.time_steps):
            assert type(v) is int and v > 0, p
        assert p.cell in db.CELLS, p


@pytest.mark.parametrize("name", LISTS)
def test_no_duplicates(name):
    # rnn_problems.h has no duplicate entries in any of its three lists
    assert len(set(LISTS[name])) == len(LISTS[name])


def test_cell_breakdown_and_fingerprint():
    # Counts and a checksum (sum of H*N*T) taken from the header.
    assert Counter(p.cell for p in db.TRAIN) == {"vanilla": 12, "lstm": 22, "gru": 19}
    assert Counter(p.cell for p in db.INFER_SERVER) == {"lstm": 15, "gru": 54}
    assert Counter(p.cell for p in db.INFER_DEVICE) == {"vanilla": 2, "lstm": 1}
    fp = {n: sum(p.hidden * p.batch * p.time_steps for p in L) for n, L in LISTS.items()}
    assert fp == {"TRAIN": 1084826624, "INFER_SERVER": 188557824, "INFER_DEVICE": 66048}


def test_spot_entries_in_header_order():
    assert db.TRAIN[0] == db.Problem(1760, 16, 50, "vanilla")
    assert db.TRAIN[12] == db.Problem(512, 16, 25, "lstm")
    assert db.TRAIN[34] == db.Problem(2816, 32, 1500, "gru")
    assert db.TRAIN[-1] == db.Problem(1024, 64, 1500, "gru")
    assert db.INFER_SERVER[0] == db.Problem(512, 1, 25, "lstm")
    assert db.INFER_SERVER[-1] == db.Problem(1024, 4, 1500, "gru")
    assert db.INFER_DEVICE == (
        db.Problem(32, 1, 672, "vanilla"),
        db.Problem(64, 1, 96, "vanilla"),
        db.Problem(256, 1, 150, "lstm"),
    )
    assert db.Problem._fields == ("hidden", "batch", "time_steps", "cell")


def test_commented_out_entry_is_in_train():
    assert set(db.TRAIN_COMMENTED_OUT) <= set(db.TRAIN)
    assert len([p for p in db.TRAIN if p not in db.TRAIN_COMMENTED_OUT]) == 52


def test_deepbench_kind_map():
    assert DEEPBENCH_KIND == {"vanilla": "rnn_relu", "lstm": "lstm", "gru": "gru"}
    assert set(DEEPBENCH_KIND) == set(db.CELLS)


# ------------------------------------------------------------------ FLOP counts

def test_deepbench_hand_computed():
    assert deepbench_flops("lstm", 25, 16, 512) == 8 * 25 * 16 * 512**2 == 838_860_800
    assert deepbench_flops("gru", 1500, 32, 2816) == 6 * 1500 * 32 * 2816**2
    assert deepbench_flops("rnn_relu", 50, 16, 1760) == 2 * 50 * 16 * 1760**2 + 50 * 16 * 1760
    assert deepbench_flops("rnn_relu", 50, 16, 1760) == 4_956_160_000 + 1_408_000
    assert deepbench_flops("rnn_tanh", 50, 16, 1760) == deepbench_flops("rnn_relu", 50, 16, 1760)


def test_full_hand_computed():
    assert full_flops("rnn_tanh", 2, 3, 5, 7) == 2 * 2 * 3 * 1 * 5 * (7 + 5) == 720
    assert full_flops("lstm", 25, 16, 512, 512) == 2 * 25 * 16 * 4 * 512 * 1024
    assert full_flops("gru", 1, 1, 4, 3) == 2 * 3 * 4 * 7 == 168
    # with I == H the full count is exactly twice DeepBench's for gated cells
    assert full_flops("lstm", 25, 16, 512, 512) == 2 * deepbench_flops("lstm", 25, 16, 512)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("T,N,H,I", [(1, 1, 1, 1), (3, 2, 8, 1), (25, 16, 512, 512),
                                     (7, 5, 33, 1000), (1500, 4, 2816, 80)])
def test_full_at_least_deepbench(kind, T, N, H, I):
    assert full_flops(kind, T, N, H, I) >= deepbench_flops(kind, T, N, H)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_phase_relations(kind, convention):
    T, N, H, I = 10, 4, 64, 32
    f = {ph: phase_flops(kind, T, N, H, I, ph, convention) for ph in PHASES}
    base = deepbench_flops(kind, T, N, H) if convention == "deepbench" else full_flops(kind, T, N, H, I)
    assert f["forward"] == base
    assert f["backward_data"] == f["backward_weights"] == f["forward"]
    assert f["forward_backward"] == f["forward"] + f["backward_data"] + f["backward_weights"]
    assert f["forward_backward"] == 3 * f["forward"]


def test_deepbench_convention_ignores_input_size():
    assert phase_flops("gru", 5, 2, 16, 1, "forward", "deepbench") == \
        phase_flops("gru", 5, 2, 16, 999, "forward", "deepbench")


def test_problem_flops():
    p = db.Problem(512, 16, 25, "lstm")
    assert problem_flops(p) == 8 * 25 * 16 * 512**2
    assert problem_flops(p, "forward_backward", "full") == 3 * full_flops("lstm", 25, 16, 512, 512)
    v = db.INFER_DEVICE[0]
    assert problem_flops(v) == deepbench_flops("rnn_relu", 672, 1, 32)
    for L in LISTS.values():
        for q in L:
            assert problem_flops(q, "forward", "full") >= problem_flops(q) > 0


# ----------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("call,arg", [
    (lambda: deepbench_flops("vanilla", 1, 1, 1), "kind"),
    (lambda: deepbench_flops("LSTM", 1, 1, 1), "kind"),
    (lambda: full_flops("transformer", 1, 1, 1, 1), "kind"),
    (lambda: phase_flops("lstm", 1, 1, 1, 1, "backward", "full"), "phase"),
    (lambda: phase_flops("lstm", 1, 1, 1, 1, "forward", "cudnn"), "convention"),
    (lambda: deepbench_flops("lstm", 0, 1, 1), "T"),
    (lambda: deepbench_flops("lstm", 1, -2, 1), "N"),
    (lambda: deepbench_flops("lstm", 1, 1, 0), "H"),
    (lambda: full_flops("gru", 1, 1, 1, 0), "I"),
    (lambda: phase_flops("gru", 1, 1, 1, -1, "forward", "deepbench"), "I"),
    (lambda: full_flops("gru", 1.5, 1, 1, 1), "T"),
    (lambda: full_flops("gru", 1, True, 1, 1), "N"),
    (lambda: problem_flops(db.Problem(8, 1, 1, "rnn_relu")), "cell"),
])
def test_bad_input_raises_value_error_naming_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()
