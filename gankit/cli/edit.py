"""``gankit project``, ``gankit direction`` and ``gankit edit``: latent editing (docs/editing.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gankit.errors import GankitError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--seed", type=int, default=0)


def _projection_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", choices=("w", "w+"), default="w")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--perceptual", default="inception", metavar="inception|tiny|none|LPIPS.pt",
                   help="perceptual distance: FID Inception layers, a tiny random stand-in, none, or a TorchScript file")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--pixel-weight", type=float, default=1.0)
    p.add_argument("--no-progress", action="store_true")


def add_parsers(sub) -> None:
    p = sub.add_parser("project", help="project an image into W / W+ of a style generator")
    p.add_argument("ckpt", metavar="CKPT", help="run directory or checkpoint")
    p.add_argument("--image", required=True)
    _projection_opts(p)
    p.add_argument("--out", default=None, help="output folder (default runs/project/<image name>)")
    p.add_argument("--frames", type=int, default=60, help="frames in the optimization video (0: none)")
    p.add_argument("--video", choices=("mp4", "gif"), default="mp4")
    p.add_argument("--fps", type=float, default=15)
    _common(p)
    p.set_defaults(func=cmd_project)

    d = sub.add_parser("direction", help="an edit direction from exemplar sets (images or latents) or a scorer")
    d.add_argument("--with", dest="with_", default=None, metavar="DIR_OR_FILES",
                   help="folder or comma-separated files (images are projected; latent files used as they are)")
    d.add_argument("--without", default=None, metavar="DIR_OR_FILES")
    d.add_argument("--ckpt", default=None, help="generator (needed to project images, or with --scorer)")
    d.add_argument("--scorer", default=None, metavar="SCORER.pt",
                   help="TorchScript classifier: images [N,C,R,R] in [-1,1] -> logits [N] or [N,A]; fit a boundary in W")
    d.add_argument("--index", type=int, default=0, help="attribute column of the scorer's output")
    d.add_argument("--samples", type=int, default=2000, help="latents sampled for --scorer")
    d.add_argument("--threshold", type=float, default=None,
                   help="score above which a sample has the attribute (default: the median: balanced classes)")
    d.add_argument("--keep", type=float, default=1.0, help="fit only this fraction of most confident samples (ends)")
    d.add_argument("--unit", action="store_true", help="normalize the exemplar direction to unit length")
    d.add_argument("--out", required=True, help="direction file (.safetensors)")
    _projection_opts(d)
    _common(d)
    d.set_defaults(func=cmd_direction)

    e = sub.add_parser("edit", help="move a latent along a direction (GIF/MP4 + grid), or latent arithmetic")
    e.add_argument("ckpt", metavar="CKPT")
    e.add_argument("--latent", default=None, help="latent file from gankit project (.safetensors/.npz)")
    e.add_argument("--direction", default=None, help="direction file from gankit direction")
    e.add_argument("--alphas", default="0:1:12", help="START:STOP:COUNT (inclusive) or a comma list")
    e.add_argument("--arith", default=None, metavar='"A - B + C"', help="vector arithmetic over concept latent files")
    e.add_argument("--latents", default=".", help="folder of concept files for --arith (NAME.safetensors|.npz or NAME/)")
    e.add_argument("--out", required=True, help="animation (.gif/.mp4) for --direction; grid PNG for --arith")
    e.add_argument("--grid", default=None, help="grid PNG for the alpha sweep (default: next to --out)")
    e.add_argument("--fps", type=float, default=8)
    e.add_argument("--boomerang", action="store_true", help="play the sweep forward then backward")
    _common(e)
    e.set_defaults(func=cmd_edit)


def parse_alphas(spec: str) -> list[float]:
    """"0:1:12" -> 12 values from 0 to 1 inclusive; "0,0.5,1" -> that list."""
    try:
        if ":" in spec:
            a, b, n = spec.split(":")
            n = int(n)
            if n < 1:
                raise ValueError
            return [float(a) + (float(b) - float(a)) * i / max(n - 1, 1) for i in range(n)]
        return [float(v) for v in spec.split(",")]
    except ValueError:
        raise GankitError(f"--alphas {spec!r}: expected START:STOP:COUNT (COUNT >= 1) or a comma list of numbers") from None


def _projection_kw(args) -> dict:
    return {"space": args.space, "steps": args.steps, "perceptual": args.perceptual, "device": args.device,
            "lr": args.lr, "pixel_weight": args.pixel_weight, "progress": not args.no_progress}


def cmd_project(args: argparse.Namespace) -> int:
    import torch

    from gankit.editing.media import image_grid, save_png, to_uint8, write_animation
    from gankit.editing.projection import prepare_target, project

    from gankit.editing.media import save_projection
    from gankit.pipelines import load_image, load_style_generator

    G, _ = load_style_generator(args.ckpt, args.device)
    img = load_image(args.image)
    out = Path(args.out or Path("runs/project") / Path(args.image).stem)
    every = max(1, args.steps // args.frames) if args.frames > 0 else 0
    gen = torch.Generator().manual_seed(args.seed)
    res = project(G, img, frame_every=every, generator=gen, **_projection_kw(args))
    files = save_projection(out, res, {"image": str(args.image), "ckpt": str(args.ckpt)})
    target = prepare_target(img, G.resolution, G.channels)
    save_png(out / "reconstruction.png", to_uint8(res.image[None])[0])
    save_png(out / "side_by_side.png", image_grid(torch.cat([target, res.image[None]]), nrow=2))
    if res.frames:
        files.append(write_animation(out / f"projection.{args.video}", res.frames, args.fps))
    print(f"loss {res.losses[0]:.4g} -> {res.losses[-1]:.4g} over {len(res.losses)} steps ({args.space})")
    for f in files + [out / "reconstruction.png", out / "side_by_side.png"]:
        print(f"wrote {f}")
    return 0


def gather(spec: str) -> list[Path]:
    """A folder (its images and latent files, sorted) or comma-separated files."""
    from gankit.editing.directions import gather_exemplars

    return gather_exemplars(spec)


def latents_of(files: list[Path], args, G=None):
    """Stack the W latents of ``files``: latent files are read, images projected with G."""
    import torch

    from gankit.editing.directions import exemplar_latents
    from gankit.editing.projection import project
    from gankit.pipelines import load_image

    def project_image(f: Path, i: int):
        gen = torch.Generator().manual_seed(args.seed + i)
        return project(G, load_image(f), generator=gen, **_projection_kw(args)).ws

    return exemplar_latents(files, project_image if G is not None else None)


def cmd_direction(args: argparse.Namespace) -> int:
    import torch

    from gankit.editing.directions import exemplar_set_direction, label_direction, save_direction

    from gankit.pipelines import load_style_generator

    G = load_style_generator(args.ckpt, args.device)[0] if args.ckpt else None
    if args.scorer:
        if G is None:
            raise GankitError("--scorer needs --ckpt (latents are sampled from the generator)")
        scorer = _scripted_scorer(args.scorer, args.index, args.device)
        d, info = label_direction(G, scorer, n=args.samples, threshold=args.threshold, keep=args.keep,
                                  device=args.device, generator=torch.Generator().manual_seed(args.seed))
        meta = {"kind": "labels", **info}
    else:
        if not args.with_ or not args.without:
            raise GankitError("gankit direction: give --with and --without (exemplar sets), or --scorer")
        w_with = latents_of(gather(args.with_), args, G)
        w_without = latents_of(gather(args.without), args, G)
        d = exemplar_set_direction(w_with, w_without, args.unit)  # W (not W+) latents: one vector
        meta = {"kind": "exemplars", "k_with": len(w_with), "k_without": len(w_without)}
    path = save_direction(args.out, d, meta)
    print(f"direction {tuple(d.shape)} norm {float(d.norm()):.4g} ({meta['kind']}); wrote {path}")
    return 0


def _scripted_scorer(path: str, index: int, device: str):
    from gankit.editing.projection import load_scripted

    net = load_scripted(path, device, "scorer")

    def score(x):
        s = net(x)
        return s[:, index] if s.dim() > 1 else s

    return score


def cmd_edit(args: argparse.Namespace) -> int:
    from gankit.pipelines import load_generator, load_style_generator

    if args.arith:
        G, _ = load_generator(args.ckpt, args.device)
    else:
        G, _ = load_style_generator(args.ckpt, args.device)
    if args.arith:
        from gankit.editing.media import save_png

        grid = arith_grid(G, args.arith, args.latents, args.seed)
        print(f"wrote {save_png(args.out, grid)}")
        return 0
    if not args.latent or not args.direction:
        raise GankitError("gankit edit: give --latent and --direction (or --arith)")
    return _sweep(G, args)


def _sweep(G, args) -> int:
    from gankit.editing.directions import apply_direction, load_direction
    from gankit.editing.media import image_grid, latent_noises, load_latent, save_png, to_uint8, write_animation
    from gankit.editing.projection import reconstruct

    t = load_latent(args.latent)
    if "ws" not in t:
        raise GankitError(f"{args.latent}: latent file has no 'ws' (a W latent from gankit project)")
    alphas = parse_alphas(args.alphas)
    ws = apply_direction(t["ws"], load_direction(args.direction), alphas)
    imgs = reconstruct(G, ws, latent_noises(t))
    frames = list(to_uint8(imgs))
    anim = write_animation(args.out, frames + (frames[-2:0:-1] if args.boomerang else []), args.fps)
    grid = Path(args.grid) if args.grid else Path(args.out).with_name(Path(args.out).stem + "_grid.png")
    save_png(grid, image_grid(imgs, nrow=len(alphas)))
    print(f"wrote {anim} ({len(frames)} alphas {alphas[0]:g}..{alphas[-1]:g}) and {grid}")
    return 0


def arith_grid(G, expr: str, root: str, seed: int = 0, jitter: float = 0.25):
    """Seed 004 figure 3 layout: one row per concept (its K images, then the image of the mean)
    and a last row with the result and K jittered results. -> uint8 grid [H, W, 3]."""
    import torch

    from gankit.editing.arithmetic import concept_mean, evaluate, load_concepts, parse_expression
    from gankit.editing.media import image_grid

    terms = parse_expression(expr)
    key, concepts = load_concepts(root, [n for _, n in terms])
    k = max(len(v) for v in concepts.values())
    result = evaluate(terms, concepts)
    gen = torch.Generator().manual_seed(seed)
    scale = jitter * (1.0 if key == "z" else float(torch.cat([v.flatten() for v in concepts.values()]).std()))
    jittered = result + scale * torch.randn((k,) + tuple(result.shape), generator=gen)
    rows = []
    for _, name in dict.fromkeys(terms):
        v = concepts[name]
        rows.append(_pad_row(torch.cat([v, concept_mean(v)[None]]), k + 1))
    rows.append(torch.cat([result[None], jittered]))
    images = _render(G, key, torch.cat(rows))
    return image_grid(images, nrow=k + 1)


def _pad_row(v, n: int):
    import torch

    return v if len(v) == n else torch.cat([v[:-1], v[-1:].expand(n - len(v), *v.shape[1:]), v[-1:]])[-n:]


def _render(G, key: str, latents):
    import torch

    from gankit.models.contracts import is_kind

    p = next(G.parameters())
    with torch.no_grad():
        x = latents.to(p.device, p.dtype)
        if key == "z":
            if x.shape[1] != getattr(G, "z_dim", x.shape[1]):
                raise GankitError(f"z latents have {x.shape[1]} dims but the generator takes {G.z_dim}")
            return (G(x, noise_mode="const") if is_kind(G, "style") else G(x)).float()
        if not is_kind(G, "style"):
            raise GankitError("W latents need a style generator")
        x = x.unsqueeze(1).expand(-1, G.num_ws, -1) if x.dim() == 2 else x
        return G.synthesis(x, noise_mode="const").float()
