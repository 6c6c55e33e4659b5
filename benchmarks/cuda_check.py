"""The CUDA paths on a GPU: do they compute what the CPU computes, and how fast do they train.

CI has no GPU, so this is the check a GPU machine runs (the note of each session that had
one gives its figures). For each preset, at --frames x --crop:

  numerics (batch 2, dropout off, TF32 off, residual BNs not zero-initialised so that
  every conv gets a gradient), each against the same network in float64 on the CPU:
    logits_rel_X          max |logits - exact| / max |exact|
    grad_cosine_X         cosine of the whole gradient vector after one loss.backward()
  for X = fp32_cpu (the CPU in float32, archspace's own depthwise backward: the yardstick
  for float32 rounding), fp32 (CUDA), channels_last (CUDA, channels_last_3d), bf16 (CUDA,
  bf16 autocast) and bf16_cpu. At initialisation these gradients are ill-conditioned
  (train-mode BN over 2 clips): on the CPU, float32 alone moves their cosine to 0.9993
  (X3D-M) and 0.9977 (VoV3D-M) at 16 x 160^2, and bf16 to ~0.25 and ~0.06.
  speed (batch --batch, SGD steps as archspace.train.loop takes them, through Runtime;
  TF32 as torch leaves it):
    train_clips_s / infer_clips_s for fp32, bf16 (--amp), bf16 + channels_last_3d
    (--channels-last), the same with cuDNN autotuning (torch.backends.cudnn.benchmark),
    and that + torch.compile (--compile), with compile_s (the warm-up steps' time)
    peak_mem_gb per configuration

Prints one JSON object; "ok" is true when CUDA's float32 and channels_last figures are
within 3x the CPU's float32 distance from the exact ones (logits: at least 1e-4); bf16 is
reported beside the CPU's own bf16 figures, not judged.

    python benchmarks/cuda_check.py [--presets x3d_m,vov3d_m] [--frames 16] [--crop 160]
        [--batch 16] [--steps 20] [--no-compile] [--device cuda]

--device cpu runs the same code on the CPU (a dry run of the script, not a check).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from archspace import build_model, preset
from archspace.train.device import Runtime


def logits_and_grad(model, clips, labels, runtime: Runtime, dtype=torch.float32):
    net = runtime.prepare(model)
    net.train()
    net.zero_grad(set_to_none=True)
    clips = runtime.to_device(clips)
    with runtime.autocast():
        logits = net(clips)
    F.cross_entropy(logits.to(dtype), labels.to(runtime.device)).backward()
    grad = torch.cat([p.grad.flatten().cpu() for p in net.parameters()]).double()
    return logits.detach().cpu().double(), grad


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def numerics(genome, device: torch.device) -> dict:
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    state = build_model(genome, zero_init_final_bn=False).state_dict()
    clips = torch.randn(2, 3, genome.frames, genome.crop, genome.crop)
    labels = torch.tensor([1, 2])
    exact = build_model(genome, zero_init_final_bn=False).double()
    exact.load_state_dict(state)
    ref_logits, ref_grad = logits_and_grad(exact, clips.double(), labels, Runtime(torch.device("cpu")), torch.float64)
    scale = ref_logits.abs().max().item()
    out = {}
    for name, runtime in (
        ("fp32_cpu", Runtime(torch.device("cpu"))),
        ("bf16_cpu", Runtime(torch.device("cpu"), amp=True)),
        ("fp32", Runtime(device)),
        ("channels_last", Runtime(device, channels_last=True)),
        ("bf16", Runtime(device, amp=True)),
    ):
        model = build_model(genome, zero_init_final_bn=False)
        model.load_state_dict(state)
        logits, grad = logits_and_grad(model, clips, labels, runtime)
        out[f"logits_rel_{name}"] = (logits - ref_logits).abs().max().item() / scale
        out[f"grad_cosine_{name}"] = F.cosine_similarity(grad, ref_grad, dim=0).item()
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    return out


def numerics_ok(n: dict) -> bool:
    logits_tol = max(1e-4, 3 * n["logits_rel_fp32_cpu"])
    grad_tol = 3 * (1 - n["grad_cosine_fp32_cpu"])
    return all(n[f"logits_rel_{x}"] <= logits_tol and 1 - n[f"grad_cosine_{x}"] <= grad_tol
               for x in ("fp32", "channels_last"))


def speed(genome, device: torch.device, batch: int, steps: int, compile_too: bool) -> dict:
    clips = torch.randn(batch, 3, genome.frames, genome.crop, genome.crop)
    labels = torch.randint(0, genome.classes, (batch,))
    amp_cl = dict(amp=True, channels_last=True)
    configs = [("fp32", {}), ("bf16", dict(amp=True)), ("bf16_cl", amp_cl), ("bf16_cl_autotune", amp_cl)]
    if compile_too:
        configs.append(("bf16_cl_autotune_compile", amp_cl))
    cuda = device.type == "cuda"
    out = {}
    for name, flags in configs:
        torch.backends.cudnn.benchmark = "autotune" in name
        runtime = Runtime(device, **flags)
        torch.manual_seed(0)
        net = runtime.prepare(build_model(genome), compile=name.endswith("compile"))
        optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        x, y = runtime.to_device(clips), labels.to(runtime.device)

        def train_step():
            with runtime.autocast():
                logits = net(x)
            loss = F.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        def infer_step():
            with torch.inference_mode(), runtime.autocast():
                net(x)

        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        for mode, step in (("train", train_step), ("infer", infer_step)):
            net.train(mode == "train")
            started = time.perf_counter()
            for _ in range(3):  # warm-up: cuDNN autotuning, compilation
                step()
            sync(device)
            if name.endswith("compile"):
                out[f"compile_s_{mode}"] = time.perf_counter() - started
            started = time.perf_counter()
            for _ in range(steps):
                step()
            sync(device)
            out[f"{mode}_clips_s_{name}"] = batch * steps / (time.perf_counter() - started)
        if cuda:
            out[f"peak_mem_gb_{name}"] = torch.cuda.max_memory_allocated(device) / 2**30
            del net, optimizer
            torch.cuda.empty_cache()
    torch.backends.cudnn.benchmark = False
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="x3d_m,vov3d_m")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--crop", type=int, default=160)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("cuda_check.py needs a CUDA GPU; torch sees none")
    device = torch.device(args.device)
    gpu = torch.cuda.get_device_name() if args.device == "cuda" else "none (dry run on the CPU)"
    result = {"gpu": gpu, "torch": torch.__version__, "frames": args.frames,
              "crop": args.crop, "batch": args.batch, "steps": args.steps}
    ok = True
    for name in args.presets.split(","):
        genome = preset(name).replace(frames=args.frames, crop=args.crop, train_crop=args.crop, dropout=0.0)
        n = numerics(genome, device)
        ok &= numerics_ok(n)
        result[name] = {**n, **speed(genome.replace(dropout=0.5), device, args.batch, args.steps, not args.no_compile)}
        print(json.dumps({name: result[name]}), flush=True)
    result["ok"] = ok
    print(json.dumps(result))


if __name__ == "__main__":
    main()
