#!/usr/bin/python3
"""PyTorch (CPU) peer of the DR-GAN benchmark: one training iteration (a D update
and a G update, as src/train/trainer.ts does) and one encoder inference pass.

Written from the architecture's facts, not from our graphs:
  encoder (CASIA-Net): 3x3 convolutions without bias, batch norm, ELU; stride 2 uses
  TensorFlow 'same' padding, i.e. ZeroPad2d((0, 1, 0, 1)) then no padding; channels
  32 64 | 64 64 128 | 128 96 192 | 192 128 256 | 256 160 Nf (Nf = 320), all x width;
  global average pool -> the identity feature [B, Nf].
  decoder: concat(feature, one-hot target pose, noise) -> linear -> reshape
  [Nf, size/16, size/16] -> 3x3 transposed convolutions (TensorFlow 'same': stride 1
  crops one pixel per side, stride 2 keeps the first 2*in rows/columns of the full
  output) with batch norm and ELU, the last one to 3 channels, then tanh.
  discriminator: the encoder's trunk, then linear Nf -> Nd + 1 + Np
  (identity logits | fake logit | pose logits).
  losses: softmax cross entropy on identity and pose, BCE with logits on the fake
  logit; Adam lr 2e-4, betas (0.5, 0.999), eps 1e-8 for each player.

Prints one JSON object on the last line of stdout.

  OMP_NUM_THREADS=2 /usr/bin/python3 bench/peers/torch_drgan.py [--size 32 --width 0.25
      --nd 40 --batch 16] [--warmup 2] [--samples 5] [--iters 3]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

# OpenBLAS's own thread pool beside torch's OpenMP threads puts 4 spinning threads on
# 2 cores: the 2-thread iteration measured 130-590 ms, against 78 ms with OpenBLAS
# single-threaded (torch's threads still parallelise it). Read when OpenBLAS loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # the harness turns this into a "skipped" record
    print(json.dumps({"skipped": f"PyTorch is not installed ({e}); "
                      "apt-get install -y python3-torch"}))
    sys.exit(0)

ENC = [(32, 1), (64, 1), (64, 2), (64, 1), (128, 1), (128, 2), (96, 1), (192, 1),
       (192, 2), (128, 1), (256, 1), (256, 2), (160, 1)]  # then Nf, stride 1
DEC = [(160, 1), (256, 1), (256, 2), (128, 1), (192, 1), (192, 2), (96, 1), (128, 1),
       (128, 2), (64, 1), (64, 1), (64, 2), (32, 1)]  # then 3 channels, stride 1


def ch(width, c):
    v = width * c
    assert v == int(v), f"width {width} x {c} is not a whole number of channels"
    return int(v)


class ConvBnElu(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        # TF 'same' for k=3: stride 1 pads 1 on every side; stride 2 on an even size
        # pads one row/column at the bottom/right only.
        self.pad = nn.ZeroPad2d((0, 1, 0, 1)) if stride == 2 else nn.Identity()
        self.conv = nn.Conv2d(cin, cout, 3, stride, padding=1 if stride == 1 else 0, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)

    def forward(self, x):
        return F.elu(self.bn(self.conv(self.pad(x))))


class DeconvBnElu(nn.Module):
    def __init__(self, cin, cout, stride, bn=True):
        super().__init__()
        self.stride = stride
        # TF conv2d_transpose 'same', k=3: output in*stride. Stride 1 crops one pixel
        # per side (padding=1); stride 2 keeps the first 2*in of the 2*in+1 outputs.
        self.deconv = nn.ConvTranspose2d(cin, cout, 3, stride, padding=1 if stride == 1 else 0,
                                         bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1) if bn else None

    def forward(self, x):
        h, w = x.shape[2], x.shape[3]
        y = self.deconv(x)
        if self.stride == 2:
            y = y[:, :, :2 * h, :2 * w]
        return F.elu(self.bn(y)) if self.bn is not None else y


class Encoder(nn.Module):
    def __init__(self, width):
        super().__init__()
        layers, cin = [], 3
        for c, s in ENC + [(320, 1)]:
            cout = ch(width, c)
            layers.append(ConvBnElu(cin, cout, s))
            cin = cout
        self.body = nn.Sequential(*layers)
        self.nf = cin

    def forward(self, x):
        return self.body(x).mean(dim=(2, 3))


class Decoder(nn.Module):
    def __init__(self, width, size, np_, nz):
        super().__init__()
        self.nf = ch(width, 320)
        self.base = size // 16
        self.fc = nn.Linear(self.nf + np_ + nz, self.nf * self.base * self.base)
        layers, cin = [], self.nf
        for c, s in DEC:
            cout = ch(width, c)
            layers.append(DeconvBnElu(cin, cout, s))
            cin = cout
        layers.append(DeconvBnElu(cin, 3, 1, bn=False))
        self.body = nn.Sequential(*layers)

    def forward(self, feature, code, noise):
        x = self.fc(torch.cat([feature, code, noise], dim=1))
        x = x.view(-1, self.nf, self.base, self.base)
        return torch.tanh(self.body(x))


class Discriminator(nn.Module):
    def __init__(self, width, nd, np_):
        super().__init__()
        self.trunk = Encoder(width)
        self.fc = nn.Linear(self.trunk.nf, nd + 1 + np_)

    def forward(self, x):
        return self.fc(self.trunk(x))


def init(m):
    # DR-GAN's initialisation, as ours: weights N(0, 0.02), biases 0, BN 1/0.
    for p in m.modules():
        if isinstance(p, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(p.weight, 0, 0.02)
            if p.bias is not None:
                nn.init.zeros_(p.bias)


def count(m):
    return sum(p.numel() for p in m.parameters())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--nd", type=int, default=40)
    ap.add_argument("--np", type=int, default=13)
    ap.add_argument("--nz", type=int, default=50)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--iters", type=int, default=3, help="iterations per timed sample")
    ap.add_argument("--infer-iters", type=int, default=5)
    ap.add_argument("--skip-train", action="store_true")
    a = ap.parse_args()

    threads = int(os.environ.get("OMP_NUM_THREADS", "2"))
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    B, Nd, Np, Nz = a.batch, a.nd, a.np, a.nz
    enc, dec, dis = Encoder(a.width), Decoder(a.width, a.size, Np, Nz), Discriminator(a.width, Nd, Np)
    for m in (enc, dec, dis):
        init(m)
    opt_d = torch.optim.Adam(dis.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    opt_g = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=2e-4,
                             betas=(0.5, 0.999), eps=1e-8)

    # One fixed batch (data generation is measured elsewhere); fresh target poses and
    # noise every iteration, as the trainer draws them.
    image = torch.rand(B, 3, a.size, a.size) * 2 - 1
    identity = torch.randint(0, Nd, (B,))
    pose = torch.randint(0, Np, (B,))

    def iterate():
        target = torch.randint(0, Np, (B,))
        code = F.one_hot(target, Np).float()
        noise = torch.rand(B, Nz) * 2 - 1
        # D update: the generator runs forward (train mode, no gradient), D on real and fake.
        with torch.no_grad():
            fake = dec(enc(image), code, noise)
        real_l, fake_l = dis(image), dis(fake)
        ones, zeros = torch.ones(B), torch.zeros(B)
        d_loss = (F.cross_entropy(real_l[:, :Nd], identity)
                  + F.cross_entropy(real_l[:, Nd + 1:], pose)
                  + F.binary_cross_entropy_with_logits(real_l[:, Nd], zeros)
                  + F.binary_cross_entropy_with_logits(fake_l[:, Nd], ones))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        # G update: gradients flow through D (its parameters are constants here).
        dis.requires_grad_(False)
        fake = dec(enc(image), code, noise)
        fl = dis(fake)
        g_loss = (F.cross_entropy(fl[:, :Nd], identity)
                  + F.cross_entropy(fl[:, Nd + 1:], target)
                  + F.binary_cross_entropy_with_logits(fl[:, Nd], zeros))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        dis.requires_grad_(True)
        return d_loss.item(), g_loss.item()

    out = {
        "peer": "pytorch-cpu",
        "torch": torch.__version__,
        "threads": threads,
        "cpu": platform.processor() or platform.machine(),
        # Debian's torch calls the system BLAS: reference BLAS unless OpenBLAS is installed
        "blas": os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3"),
        "params": {"encoder": count(enc), "decoder": count(dec), "discriminator": count(dis)},
        "config": {"size": a.size, "width": a.width, "Nd": Nd, "Np": Np, "Nz": Nz, "batch": B},
    }
    if not a.skip_train:
        for _ in range(a.warmup):
            iterate()
        times = []
        for _ in range(a.samples):
            t0 = time.perf_counter()
            for _ in range(a.iters):
                losses = iterate()
            times.append((time.perf_counter() - t0) * 1000 / a.iters)
        out.update(train_ms=statistics.median(times), train_samples_ms=times,
                   last_losses=list(losses))

    # Inference: encoder features in eval mode (batch norm with running statistics).
    enc.eval()
    with torch.no_grad():
        enc(image)
        times = []
        for _ in range(a.infer_iters):
            t0 = time.perf_counter()
            enc(image)
            times.append((time.perf_counter() - t0) * 1000)
    out.update(infer_ms=statistics.median(times), infer_samples_ms=times)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
