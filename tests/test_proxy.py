"""The proxy trainable's class subset, on real encoded videos of the synthetic benchmark."""

import pytest

from archspace import preset
from archspace.data.synth import CLASS_NAMES, generate
from archspace.errors import UserError
from archspace.train.data import make_train_data
from archspace.train.proxy import ProxyBudget, class_subset, train_proxy
from archspace.train.recipe import load_recipe

SUBSET = ("moving_left", "appearing", "receding")  # not in sorted order: labels follow this order


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    generate(root, videos_per_class=3, val_videos_per_class=2, frames=8, size=40, seed=5, progress=False)
    return root


def test_class_subset_keeps_only_those_classes_renumbered_in_order(synth):
    recipe = load_recipe("ssv2_scratch").with_size(4, 32)
    sets = make_train_data(synth, recipe, use_cache=True)
    train = class_subset(sets.train, sets.classes, SUBSET)
    val = class_subset(sets.val, sets.classes, SUBSET)
    assert (len(train), len(val)) == (9, 6)
    assert [train[i][1] for i in range(len(train))] == [1, 1, 1, 0, 0, 0, 2, 2, 2]  # folders sorted: appearing, moving_left, receding
    assert sorted(val[i][1] for i in range(len(val))) == [0, 0, 1, 1, 2, 2]
    # The same clip as the full set's item, only the label changed.
    first = train.indices[0]
    assert sets.classes[sets.train[first][1]] == "appearing"
    assert (train[0][0] == sets.train[first][0]).all()
    with pytest.raises(UserError, match="unknown class 'sliding'"):
        class_subset(sets.train, sets.classes, ("sliding", "appearing"))


def test_proxy_trains_and_validates_on_the_subset(synth):
    seen = []
    genome = preset("vov3d_m").replace(depths=(1, 1, 1, 1), modules=2)
    budget = ProxyBudget(epochs=1, frames=4, crop=32, batch_size=8, fraction=0.34, classes=list(SUBSET))
    metrics = train_proxy(genome, synth, budget, report=seen.append, seed=1)
    assert metrics["val_videos"] == 6 and len(seen) == 1
    assert budget.classes == SUBSET and budget.to_dict()["classes"] == list(SUBSET)
    assert ProxyBudget().classes is None and len(CLASS_NAMES) == 15
    with pytest.raises(UserError, match="at least 2 distinct"):
        ProxyBudget(classes=["appearing", "appearing"])


def test_the_proxy_trains_a_narrower_copy_with_every_width_scaled():
    from archspace.genome import preset
    from archspace.train.proxy import narrower

    m = narrower(preset("vov3d_m"), 0.5)  # INNER_CH 40 -> 20
    assert (m.inner_widths, m.out_widths, m.stem_width, m.head_width, m.fc_width) == (
        (20, 40, 80, 160), (10, 20, 40, 80), 10, 160, 1024)
    assert (m.depths, m.modules, m.block) == ((1, 2, 3, 2), 5, "d2p1d")
    x = narrower(preset("x3d_m"), 0.5)  # outputs 24..192 -> 12..96, inner 54..432 -> 28(27 rounds to even)..216
    assert (x.out_widths, x.inner_widths, x.stem_width) == ((12, 24, 48, 96), (28, 54, 108, 216), 12)
    assert narrower(preset("x3d_m"), 1.0) is preset("x3d_m")
