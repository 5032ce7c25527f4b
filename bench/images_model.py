"""images_bench.py's model: a ResNet-18 (torchvision's layout, written here
in plain torch; random weights from a fixed seed, 32-d output) saved once
as TorchScript into the workdir and given to the server with --model.

The server's built-in model is a 16x16 average of the input (no compute to
speak of), so a forward-pass ceiling needs a real network: this is the one
the built-in model was before (an untrained ResNet-18, 32-d) and the one
bench/README.md's older images rows were measured with.
"""

import torch
from torch import nn

from benchlib import log

# Bump when the network changes: a cached file is then rewritten.
MODEL_VERSION = 1
DIMENSION = 32


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = nn.Identity()
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride,
                                                bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(self.down(x) + y)


class ResNet18(nn.Module):
    def __init__(self, dim=DIMENSION):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False),
                                  nn.BatchNorm2d(64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], 64
        for stage, c in enumerate((64, 128, 256, 512)):
            for b in range(2):
                blocks.append(BasicBlock(cin, c, 2 if stage and not b else 1))
                cin = c
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, dim)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(torch.mean(x, [2, 3]), 1))


def resnet18_file(workdir):
    """workdir/resnet18-v<MODEL_VERSION>.pt, written once (eval mode, so the
    server's freeze folds the batch norms as it would a trained model's)."""
    path = workdir / ("resnet18-v%d.pt" % MODEL_VERSION)
    if not path.is_file():
        log("writing the ResNet-18 model to %s" % path)
        torch.manual_seed(0)
        model = ResNet18().eval()
        tmp = path.with_suffix(".tmp")
        torch.jit.script(model).save(str(tmp))
        tmp.rename(path)
    return path
