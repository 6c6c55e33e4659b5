"""`archspace train` under torch.distributed.run, recording what each process trains on.

    python -m torch.distributed.run --nproc_per_node 2 tests/ddp_recorded.py train ... --out RUN

runs the same CLI a user runs; the only addition is that the training set is wrapped so
that each process writes RUN/rank<RANK>.json: the size of the process group it joined,
and the indices of the training items it read in each epoch.
"""

import json
import os
import sys
from pathlib import Path

import torch.distributed as dist

import archspace.train.loop as loop
from archspace.cli import main


class Recorder:
    """The training set, noting each index read, per epoch."""

    def __init__(self, dataset):
        self.dataset, self.epoch, self.read = dataset, 0, {}

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.dataset.set_epoch(epoch)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        self.read.setdefault(self.epoch, []).append(int(i))
        return self.dataset[i]

    def __getattr__(self, name):  # problems, classes, ...: the wrapped set's
        return getattr(self.dataset, name)


real_train = loop.train


def recording_train(setup, train_set, val_set, runtime, on_epoch_end=None):
    recorder = Recorder(train_set)
    try:
        return real_train(setup, recorder, val_set, runtime, on_epoch_end)
    finally:
        record = {
            "group_size": dist.get_world_size() if dist.is_initialized() else 1,
            "runtime_world_size": runtime.world_size,
            "train_items": len(train_set),
            "read": recorder.read,
        }
        Path(setup.out, f"rank{os.environ.get('RANK', '0')}.json").write_text(json.dumps(record))


loop.train = recording_train  # run_train imports it from the module when called

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
