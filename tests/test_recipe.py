"""Recipes: the paper's settings as files, checked on load; proxy sizes scaled from them.
(The learning rate of every iteration is judged by torch's schedulers in test_train_judges.py.)"""

import dataclasses

import pytest

from archspace import UserError
from archspace.train.recipe import Recipe, available_recipes, load_recipe, lr_at


def test_the_recipes_are_the_papers_settings():
    assert available_recipes() == ["kinetics", "ssv2_finetune_from_kinetics", "ssv2_scratch", "synth_proxy"]
    scratch = load_recipe("ssv2_scratch")
    assert scratch == Recipe(name="ssv2_scratch", warmup_epochs=5)  # the defaults are the SSv2 recipe
    kinetics = load_recipe("kinetics")
    assert (kinetics.epochs, kinetics.batch_size, kinetics.sampling, kinetics.stride, kinetics.flip,
            kinetics.test_clips, kinetics.warmup_epochs) == (256, 128, "strided", 5, True, 10, 35)
    assert kinetics.lr_for_batch(128) == pytest.approx(0.2) and kinetics.lr_for_batch(32) == pytest.approx(0.05)
    finetune = load_recipe("ssv2_finetune_from_kinetics")
    assert (finetune.schedule, finetune.steps, finetune.warmup_iters, finetune.warmup_start_lr, finetune.sync_bn,
            finetune.zero_init_final_bn) == ("steps", (35, 45), 2000, 1e-4, True, False)


def test_defaults_hold_the_paper_values():
    r = Recipe()
    assert (r.name, r.epochs, r.batch_size, r.base_lr, r.reference_batch, r.momentum, r.nesterov) == (
        "ssv2_scratch", 100, 64, 0.1, 64, 0.9, True)
    assert (r.weight_decay, r.schedule, r.steps, r.gamma, r.warmup_epochs, r.warmup_iters, r.warmup_start_lr) == (
        5e-5, "cosine", (), 0.1, 0.0, 0, 0.01)
    assert (r.dropout, r.zero_init_final_bn, r.label_smoothing, r.sync_bn, r.sampling, r.frames, r.stride) == (
        0.5, True, 0.0, False, "segment", 16, 1)
    assert (r.crop, r.short_side, r.flip, r.test_short_side, r.test_crop, r.test_clips, r.test_crops) == (
        224, (256, 320), False, 256, 256, 2, 3)


def test_a_recipe_round_trips_through_a_dict_with_lists():
    r = load_recipe("ssv2_finetune_from_kinetics")
    d = r.to_dict()
    assert d["steps"] == [35, 45] and d["short_side"] == [256, 320] and d["name"] == "ssv2_finetune_from_kinetics"
    back = Recipe.from_dict(d)
    assert back == r and back.steps == (35, 45) and back.short_side == (256, 320)


def test_with_size_scales_the_scale_ranges_with_the_crop():
    r = load_recipe("ssv2_scratch").with_size(frames=8, crop=112)
    assert (r.frames, r.crop, r.short_side, r.test_short_side, r.test_crop) == (8, 112, (128, 160), 128, 128)
    # Each side is scaled by crop / 224 and rounded: 224 -> 32, 230 -> 32.9 -> 33.
    small = Recipe(short_side=(224, 230), test_short_side=224, test_crop=224).with_size(crop=32)
    assert (small.short_side, small.test_short_side, small.test_crop) == ((32, 33), 32, 32)
    assert Recipe().with_size() == Recipe() and Recipe().with_size(crop=224) == Recipe()
    assert Recipe().with_size(frames=4) == dataclasses.replace(Recipe(), frames=4)


def test_replace_and_from_dict_name_a_bad_field():
    with pytest.raises(UserError, match=r"unknown recipe field 'colour'; allowed: base_lr, batch_size, crop, "):
        Recipe().replace(colour="red", epochs=3)
    with pytest.raises(UserError, match=r"a recipe must be a mapping of field: value; got list"):
        Recipe.from_dict([1, 2])
    assert Recipe().replace(epochs=3).epochs == 3


@pytest.mark.parametrize("change,message", [
    (dict(schedule="linear"), "schedule must be cosine or steps; got 'linear'"),
    (dict(sampling="dense"), "sampling must be segment or strided; got 'dense'"),
    (dict(epochs=0), "epochs must be an integer >= 1; got 0"),
    (dict(batch_size=2.0), "batch_size must be an integer >= 1; got 2.0"),
    (dict(frames=True), "frames must be an integer >= 1; got True"),
    (dict(test_clips=0), "test_clips must be an integer >= 1; got 0"),
    (dict(test_crops=2), "test_crops must be 1 or 3; got 2"),
    (dict(base_lr=-0.1), "base_lr must be a number >= 0; got -0.1"),
    (dict(gamma=float("nan")), "gamma must be a number >= 0; got nan"),
    (dict(momentum=True), "momentum must be a number >= 0; got True"),
    (dict(warmup_start_lr="0.1"), "warmup_start_lr must be a number >= 0; got '0.1'"),
    (dict(dropout=1.0), r"dropout must be in \[0, 1\); got 1.0"),
    (dict(dropout=-0.1), r"dropout must be in \[0, 1\); got -0.1"),
    (dict(short_side=(200, 320)), r"short_side must be \[min, max\] with crop <= min <= max; got \[200, 320\]"),
    (dict(short_side=(320, 256)), r"short_side must be \[min, max\] with crop <= min <= max; got \[320, 256\]"),
    (dict(short_side=(256, 288, 320)), r"short_side must be \[min, max\] .*got \[256, 288, 320\]"),
    (dict(test_crop=300), "test_crop 300 is larger than test_short_side 256"),
])
def test_bad_values_name_the_recipe_and_the_field(change, message):
    with pytest.raises(UserError, match=rf"^recipe 'ssv2_scratch': {message}$"):
        Recipe().replace(**change)


def test_edge_values_are_accepted():
    r = Recipe().replace(dropout=0.0, base_lr=0, short_side=(224, 224), test_crop=256, test_short_side=256,
                         test_crops=1, epochs=1, schedule="steps", sampling="strided")
    assert (r.dropout, r.short_side, r.test_crops) == (0.0, (224, 224), 1)


def test_load_recipe_by_path_and_its_errors(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("epochs: 7\nsteps: [2, 5]\n")
    r = load_recipe(path)
    assert (r.name, r.epochs, r.steps) == ("mine", 7, (2, 5))
    named = tmp_path / "named.yaml"
    named.write_text("name: other\n")
    assert load_recipe(str(named)).name == "other"
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_recipe(empty) == Recipe(name="empty")
    with pytest.raises(UserError, match=r"^unknown recipe 'nope'; choose from kinetics, ssv2_finetune_from_kinetics, "
                                        r"ssv2_scratch, synth_proxy or give a YAML path$"):
        load_recipe("nope")
    with pytest.raises(UserError, match=rf"^cannot read recipe file '{tmp_path}/missing.yaml': No such file or directory$"):
        load_recipe(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: [1\n")
    with pytest.raises(UserError, match=rf"^malformed recipe YAML in '{bad}': expected ',' or '\]', but got '<stream end>'$"):
        load_recipe(bad)


def test_lr_at_fixed_points():
    # Cosine: the peak at epoch 0, half at the middle, 0 at the end; steps: gamma per step passed.
    cosine = Recipe(epochs=10)
    assert [lr_at(cosine, e, 0, 0.4) for e in (0, 5, 10)] == pytest.approx([0.4, 0.2, 0.0], abs=1e-12)
    steps = Recipe(epochs=10, schedule="steps", steps=(4, 8), gamma=0.5)
    assert [lr_at(steps, e, 0, 0.4) for e in (3.99, 4, 7.5, 8, 9)] == pytest.approx([0.4, 0.2, 0.2, 0.1, 0.1])
    # Warm-up over epochs: from warmup_start_lr at 0, half-way at half the warm-up, none after it.
    warm = Recipe(epochs=10, warmup_epochs=2, warmup_start_lr=0.1, schedule="steps")
    assert [lr_at(warm, e, 0, 0.5) for e in (0, 1, 2, 3)] == pytest.approx([0.1, 0.3, 0.5, 0.5])
    # Warm-up over iterations wins over epochs while it lasts.
    both = Recipe(epochs=10, warmup_iters=10, warmup_epochs=5, warmup_start_lr=0.0, schedule="steps")
    assert [lr_at(both, 0.1, i, 1.0) for i in (0, 5, 10)] == pytest.approx([0.0, 0.5, 0.02])


def test_a_yaml_error_without_a_problem_is_named_by_its_text(tmp_path):
    # yaml's ReaderError (a character YAML forbids) has no `problem`: the message is the error's own text.
    bad = tmp_path / "nul.yaml"
    bad.write_text("epochs: \x00\n")
    with pytest.raises(UserError, match=rf"^malformed recipe YAML in '{bad}': unacceptable character #x0000: "
                                        r"special characters are not allowed\n  in \"<unicode string>\", position 8$"):
        load_recipe(bad)
