#!/usr/bin/python3
"""train_bench.py's Python peer: the server's SimCLR training
(server/backends/torch/simclr_trainer.cc, server/core/augment.cc) written
the way a PyTorch user writes it, in python3-torch alone (no torchvision):

  - the same encoder as an nn.Module: 3x3 stride-2 stem (conv, batch norm,
    ReLU), one residual block per stage (two 3x3 convolutions with batch
    norm, a 1x1 conv + batch norm shortcut where the shape changes), widths
    32-64-128-128, later stages stride 2, global average pool: D = 128;
  - the same head Linear(128, 256)-ReLU-Linear(256, 128), NT-Xent at
    temperature 0.5, Adam at lr 1e-3, batch 32 images (64 views), 64 px;
  - the same augmentations as torchvision-style transforms on float CHW
    tensors in [0, 1], mirroring augment.cc: RandomResizedCrop (scale 0.2-1,
    ratio 3/4-4/3, torchvision's ten tries then centre crop; bilinear, no
    antialias), horizontal flip p 0.5, ColorJitter 0.4/0.4/0.4/0.1 in a
    random order with p 0.8, RandomGrayscale p 0.2, GaussianBlur p 0.5 with
    sigma 0.1-2 and a radius of ceil(3 sigma), edges repeated; then
    ImageNet mean/std;
  - a torch.utils.data.DataLoader with `workers` worker processes (each at
    one torch thread, DataLoader's default) making the two views, and
    torch.set_num_threads(threads) for the model, as the server's two
    augmentation threads and its libtorch threads.

The input is what the server trains on: the decoded images, RGB uint8,
bilinear to 64x64.
"""

import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


# -- augmentations (torchvision.transforms semantics, plain torch) ------------

def random_resized_crop(img, side, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision's RandomResizedCrop on a CHW float tensor."""
    _, h, w = img.shape
    area = h * w
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    box = None
    for _ in range(10):
        target = area * torch.empty(1).uniform_(*scale).item()
        r = math.exp(torch.empty(1).uniform_(*log_ratio).item())
        cw = int(round(math.sqrt(target * r)))
        ch = int(round(math.sqrt(target / r)))
        if 0 < cw <= w and 0 < ch <= h:
            top = int(torch.randint(0, h - ch + 1, (1,)).item())
            left = int(torch.randint(0, w - cw + 1, (1,)).item())
            box = (top, left, ch, cw)
            break
    if box is None:
        in_ratio = w / h
        cw, ch = w, h
        if in_ratio < ratio[0]:
            ch = max(1, int(round(cw / ratio[0])))
        elif in_ratio > ratio[1]:
            cw = max(1, int(round(ch * ratio[1])))
        box = ((h - ch) // 2, (w - cw) // 2, ch, cw)
    top, left, ch, cw = box
    crop = img[:, top:top + ch, left:left + cw]
    return F.interpolate(crop[None], size=(side, side), mode="bilinear",
                         align_corners=False)[0]


def gray(img):
    return (0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2])[None]


def adjust_brightness(img, f):
    return (img * f).clamp(0, 1)


def adjust_contrast(img, f):
    mean = gray(img).mean()
    return (img * f + mean * (1 - f)).clamp(0, 1)


def adjust_saturation(img, f):
    return (img * f + gray(img) * (1 - f)).clamp(0, 1)


def adjust_hue(img, shift):
    """torchvision's _rgb2hsv / _hsv2rgb on a CHW tensor."""
    r, g, b = img
    maxc, _ = img.max(0)
    minc, _ = img.min(0)
    eqc = maxc == minc
    cr = maxc - minc
    ones = torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    cr_div = torch.where(eqc, ones, cr)
    rc = (maxc - r) / cr_div
    gc = (maxc - g) / cr_div
    bc = (maxc - b) / cr_div
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = torch.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    h = torch.remainder(h + shift, 1.0)
    v = maxc
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.to(torch.int64) % 6
    p = (v * (1 - s)).clamp(0, 1)
    q = (v * (1 - s * f)).clamp(0, 1)
    t = (v * (1 - s * (1 - f))).clamp(0, 1)
    mask = i.unsqueeze(0) == torch.arange(6).view(-1, 1, 1)
    a1 = torch.stack((v, q, p, p, t, v))
    a2 = torch.stack((t, v, v, q, p, p))
    a3 = torch.stack((p, p, t, v, v, q))
    a4 = torch.stack((a1, a2, a3))
    return torch.einsum("...ijk,...xijk->...xjk", mask.to(img.dtype), a4)


def color_jitter(img, b=0.4, c=0.4, s=0.4, h=0.1):
    for op in torch.randperm(4).tolist():
        if op == 0:
            img = adjust_brightness(img, torch.empty(1).uniform_(
                max(0, 1 - b), 1 + b).item())
        elif op == 1:
            img = adjust_contrast(img, torch.empty(1).uniform_(
                max(0, 1 - c), 1 + c).item())
        elif op == 2:
            img = adjust_saturation(img, torch.empty(1).uniform_(
                max(0, 1 - s), 1 + s).item())
        else:
            img = adjust_hue(img, torch.empty(1).uniform_(-h, h).item())
    return img


def gaussian_blur(img, sigma):
    """Separable, radius max(1, ceil(3 sigma)), edges repeated (as
    augment.cc; torchvision reflects a fixed-size kernel)."""
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=img.dtype)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    out = F.pad(img[None], (radius, radius, radius, radius), mode="replicate")
    out = F.conv2d(out, k.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
    out = F.conv2d(out, k.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)
    return out[0]


def simclr_view(img, side):
    """One view of a CHW float image in [0, 1], ImageNet-normalised."""
    img = random_resized_crop(img, side)
    if torch.rand(1).item() < 0.5:
        img = img.flip(2)
    if torch.rand(1).item() < 0.8:
        img = color_jitter(img)
    if torch.rand(1).item() < 0.2:
        img = gray(img).expand(3, -1, -1)
    if torch.rand(1).item() < 0.5:
        img = gaussian_blur(img, torch.empty(1).uniform_(0.1, 2.0).item())
    return (img - MEAN) / STD


class TwoViews(torch.utils.data.Dataset):
    """images: uint8 (n, H, W, 3) RGB. Item i: (view 1, view 2)."""

    def __init__(self, images, side):
        self.images = images
        self.side = side

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img = torch.from_numpy(self.images[i]).permute(2, 0, 1).float() / 255
        return simclr_view(img, self.side), simclr_view(img, self.side)


# -- the model -------------------------------------------------------------

def conv_bn(cin, cout, k, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
                         nn.BatchNorm2d(cout))


class Block(nn.Module):
    def __init__(self, cin, c, stride):
        super().__init__()
        self.conv1 = conv_bn(cin, c, 3, stride)
        self.conv2 = conv_bn(c, c, 3, 1)
        self.shortcut = (conv_bn(cin, c, 1, stride)
                         if stride != 1 or cin != c else None)

    def forward(self, x):
        y = self.conv2(torch.relu(self.conv1(x)))
        return torch.relu((x if self.shortcut is None
                           else self.shortcut(x)) + y)


class Encoder(nn.Module):
    def __init__(self, widths=(32, 64, 128, 128)):
        super().__init__()
        self.stem = conv_bn(3, widths[0], 3, 2)
        blocks, cin = [], widths[0]
        for stage, c in enumerate(widths):
            blocks.append(Block(cin, c, 1 if stage == 0 else 2))
            cin = c
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        return self.blocks(torch.relu(self.stem(x))).mean((2, 3))


def nt_xent(z, temperature=0.5):
    n = z.shape[0]
    b = n // 2
    u = F.normalize(z, dim=1)
    logits = (u @ u.t()) / temperature
    logits = logits.masked_fill(torch.eye(n, dtype=torch.bool), -1e9)
    targets = torch.cat([torch.arange(b, n), torch.arange(0, b)])
    return F.cross_entropy(logits, targets)


def train(images, steps, batch_size=32, side=64, workers=2, threads=2,
          seed=0, lr=1e-3, warmup=5):
    """`steps` SimCLR steps over `images` (uint8 (n, side, side, 3) RGB;
    reshuffled every pass). Returns {images_per_second, seconds, steps,
    first_loss, last_loss, ...}; the clock runs from starting the loader's
    workers to the last step's loss, as the server's from starting its
    augmentation threads. Also the rate after `warmup` steps
    (steady_images_per_second: the first steps of a new process are slow,
    glibc's malloc still returning big buffers to the system), the time
    spent waiting for the loader, and each step's seconds."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    encoder = Encoder()
    head = nn.Sequential(nn.Linear(128, 256), nn.ReLU(), nn.Linear(256, 128))
    opt = torch.optim.Adam(list(encoder.parameters())
                           + list(head.parameters()), lr=lr)
    encoder.train()
    loader = torch.utils.data.DataLoader(
        TwoViews(np.ascontiguousarray(images), side), batch_size=batch_size,
        shuffle=True, drop_last=True, num_workers=workers,
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(seed))
    losses, waits, ends = [], [], []
    start = time.perf_counter()
    while len(losses) < steps:
        it = iter(loader)
        while len(losses) < steps:
            t0 = time.perf_counter()
            try:
                v1, v2 = next(it)
            except StopIteration:
                break
            waits.append(time.perf_counter() - t0)
            opt.zero_grad()
            loss = nt_xent(head(encoder(torch.cat([v1, v2]))))
            loss.backward()
            opt.step()
            losses.append(loss.item())
            ends.append(time.perf_counter())
    seconds = ends[-1] - start
    del it, loader  # stops the workers
    warm = min(warmup, steps - 1)
    steady = (ends[-1] - ends[warm - 1]) if warm > 0 else seconds
    return {"images_per_second": steps * batch_size / seconds,
            "seconds": seconds, "steps": steps,
            "steady_images_per_second":
                (steps - warm) * batch_size / steady,
            "warmup_steps": warm,
            "data_wait_seconds": float(sum(waits)),
            "step_seconds": [round(b - a, 4) for a, b in
                             zip([start] + ends[:-1], ends)],
            "first_loss": losses[0], "last_loss": losses[-1]}


def main():
    import argparse
    import json
    ap = argparse.ArgumentParser(description="the Python SimCLR peer: "
                                 "prints its throughput as one JSON line")
    ap.add_argument("--images", required=True,
                    help=".npy of uint8 (n, side, side, 3) RGB images")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    images = np.load(args.images)
    out = train(images, args.steps, batch_size=args.batch_size,
                side=images.shape[1], workers=args.workers,
                threads=args.threads, seed=args.seed)
    out.update(torch=torch.__version__, workers=args.workers,
               threads=args.threads, batch_size=args.batch_size)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
