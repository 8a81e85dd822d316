import pytest
import timm
import torch

from pano360.model.heads import HEADS
from pano360.model.losses import build_loss
from pano360.model.backbone import CheckpointError, build_model, checkpoint_payload, data_config, load_checkpoint

TINY_SWIN = {"name": "swinv2_tiny_window8_256", "img_size": 64,
             "kwargs": {"window_size": 4, "embed_dim": 16, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 1, 1]}}
BACKBONES = [{"name": "test_resnet"}, {"name": "test_convnext"}, {"name": "test_vit"}, TINY_SWIN]
HEAD_OPTIONS = {"fc": {}, "csra": {"num_heads": 2, "lam": 0.2},
                "mldecoder": {"decoder_embedding": 32, "dim_feedforward": 64}}


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("backbone", BACKBONES, ids=lambda b: b["name"])
def test_every_head_on_every_layout(backbone, head):
    torch.manual_seed(0)
    model = build_model(backbone, head, HEAD_OPTIONS[head], num_classes=5).eval()
    size = data_config(model, backbone.get("img_size"))["input_size"][-1]
    x = torch.randn(2, 3, size, size)
    logits = model(x)
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    # gradients reach the backbone's first layer through the head
    model.train()
    model(x).sum().backward()
    first = next(p for p in model.backbone.parameters() if p.requires_grad)
    assert first.grad is not None and first.grad.abs().sum() > 0


def test_convnext_final_norm_is_applied_per_position():
    model = build_model({"name": "test_convnext"}, "fc", {}, 3)
    assert model.feature_norm is model.backbone.head.norm


def test_pretrained_file_loads_local_weights(tmp_path):
    source = timm.create_model("test_resnet", pretrained=False, num_classes=1000)
    torch.save(source.state_dict(), tmp_path / "weights.pth")
    model = build_model({"name": "test_resnet", "pretrained_file": str(tmp_path / "weights.pth")}, "fc", {}, 4)
    for name, value in model.backbone.state_dict().items():
        assert torch.equal(value, source.state_dict()[name]), name
    with pytest.raises(ValueError, match="pretrained_file .* does not exist"):
        build_model({"name": "test_resnet", "pretrained_file": str(tmp_path / "nope.pth")}, "fc", {}, 4)


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(ValueError, match="not a timm model"):
        build_model({"name": "resnet_does_not_exist"}, "fc", {}, 4)


def test_checkpoint_round_trip_and_foreign_files(tmp_path):
    cfg = {"name": "test_vit", "pretrained": True}  # pretrained is not stored: never re-downloaded
    model = build_model({"name": "test_vit"}, "csra", {"num_heads": 4}, 3).eval()
    path = tmp_path / "model.pt"
    torch.save(checkpoint_payload(model, model_cfg=cfg, head_options={"num_heads": 4},
                                  classes=["a", "b", "c"], data_cfg=data_config(model)), path)
    loaded, ckpt = load_checkpoint(path)
    x = torch.randn(1, 3, 160, 160)
    assert torch.allclose(loaded(x), model(x))
    assert ckpt["classes"] == ["a", "b", "c"] and "pretrained" not in ckpt["model"]
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a pano360"):
        load_checkpoint(tmp_path / "other.pt")
    ckpt["version"] = 99
    torch.save(ckpt, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(tmp_path / "future.pt")


def test_asl_uses_paper_settings_and_mean_reduction():
    loss = build_loss("asl", num_classes=4)
    asl = loss.loss
    assert (asl.gamma_neg, asl.gamma_pos, asl.clip) == (4.0, 0.0, 0.05)
    logits, targets = torch.zeros(8, 4), torch.ones(8, 4)
    # all-positive targets with γ+=0: plain -log(sigmoid(0)) = log 2 per element, averaged
    assert torch.isclose(loss(logits, targets), torch.log(torch.tensor(2.0)), atol=1e-5)
    assert torch.isclose(build_loss("bce", 4)(logits, targets), torch.log(torch.tensor(2.0)))
    with pytest.raises(ValueError, match="train.loss"):
        build_loss("focal", 4)


# ---------------------------------------------------------------- the real finetuning path (issue 10)

TINY_VIT_REG = {"name": "vit_small_patch14_reg4_dinov2", "img_size": 56,
                "kwargs": {"embed_dim": 32, "depth": 2, "num_heads": 2}}


def _names(model, params):
    lookup = {id(p): n for n, p in model.named_parameters()}
    return {lookup[id(p)] for p in params}


@pytest.mark.parametrize("backbone, no_decay", [
    (TINY_SWIN, ("logit_scale", "cpb_mlp")),
    (TINY_VIT_REG, ("pos_embed", "cls_token", "reg_token")),
])
def test_param_groups_honour_the_backbones_no_weight_decay(backbone, no_decay):
    from pano360.training.optim import param_groups
    model = build_model(backbone, "csra", {}, 4)
    groups = param_groups(model, weight_decay=0.05, lr=1e-3, head_lr_mult=10.0)
    decayed = set().union(*(_names(model, g["params"]) for g in groups if g["weight_decay"]))
    exempt = {n for n, _ in model.named_parameters() if any(k in n for k in no_decay)}
    assert exempt and not exempt & decayed
    head = [g for g in groups if _names(model, g["params"]) <= {n for n, _ in model.named_parameters()
                                                              if n.startswith("head.")}]
    assert head and all(g["lr"] == pytest.approx(1e-2) for g in head)


def test_layer_decay_gives_deeper_layers_smaller_learning_rates():
    from pano360.training.optim import param_groups
    model = build_model(TINY_VIT_REG, "fc", {}, 4)
    groups = param_groups(model, weight_decay=0.05, lr=1e-3, head_lr_mult=1.0, layer_decay=0.5)
    lr_of = {n: g["lr"] for g in groups for n in _names(model, g["params"])}
    assert lr_of["backbone.patch_embed.proj.weight"] < lr_of["backbone.blocks.0.attn.qkv.weight"] \
        < lr_of["backbone.blocks.1.attn.qkv.weight"] < lr_of["head.fc.weight"]
    assert lr_of["backbone.blocks.1.attn.qkv.weight"] == pytest.approx(0.5e-3)  # one layer below the head


@pytest.mark.parametrize("backbone", [TINY_SWIN, TINY_VIT_REG], ids=["swinv2", "vit_reg4"])
@pytest.mark.parametrize("wrap", [None, "state_dict"])
def test_pretrained_file_is_proven_to_load(tmp_path, backbone, wrap):
    from safetensors.torch import save_file
    torch.manual_seed(3)
    source = timm.create_model(backbone["name"], pretrained=False, img_size=backbone["img_size"],
                               **backbone["kwargs"])  # with its classifier, as files come
    state = {k: v + 0.01 * torch.randn_like(v) if v.is_floating_point() else v
             for k, v in source.state_dict().items()}
    path = tmp_path / ("w.pth" if wrap else "w.safetensors")
    if wrap:
        torch.save({wrap: state, "epoch": 3}, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, path)
    model = build_model({**backbone, "pretrained_file": str(path)}, "fc", {}, 4)
    loaded = model.backbone.state_dict()
    classifier = source.pretrained_cfg["classifier"]
    for key, value in state.items():
        if not key.startswith(classifier + ".") and key in loaded:
            assert torch.equal(loaded[key], value), key
    assert sum(torch.equal(loaded[k], state[k]) for k in loaded if k in state) == len(
        [k for k in loaded if k in state])


def test_a_foreign_or_renamed_weights_file_is_refused_with_its_keys(tmp_path):
    source = timm.create_model("test_resnet", pretrained=False)
    torch.save({f"backbone.{k}": v for k, v in source.state_dict().items()}, tmp_path / "renamed.pth")
    with pytest.raises(ValueError, match=r"90 of its 90 tensors are missing \(bn1\.bias.*92 tensors are unexpected \(backbone\."):
        build_model({"name": "test_resnet", "pretrained_file": str(tmp_path / "renamed.pth")}, "fc", {}, 4)
    torch.save(timm.create_model("test_vit", pretrained=False).state_dict(), tmp_path / "vit.pth")
    with pytest.raises(ValueError, match=r"does not hold this backbone's weights"):
        build_model({"name": "test_resnet", "pretrained_file": str(tmp_path / "vit.pth")}, "fc", {}, 4)


def test_hub_weights_without_network_fail_at_once(monkeypatch):
    import socket
    import time
    import huggingface_hub

    def unreachable(*args, **kwargs):
        raise OSError("network unreachable")
    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    t0 = time.time()
    with pytest.raises(ValueError, match=r"cannot reach.*model\.pretrained_file"):
        build_model({"name": "test_resnet", "pretrained": True}, "fc", {}, 4)
    assert time.time() - t0 < 5


def test_img_size_goes_to_the_models_that_take_it():
    from pano360.model.backbone import accepts_img_size
    assert not accepts_img_size("fastvit_t8")   # a "vit" in the name, but no img_size argument
    assert accepts_img_size("cait_xxs24_224") and accepts_img_size("hiera_tiny_224")
    assert not accepts_img_size("resnet18")
    model = build_model({"name": "fastvit_t8", "img_size": 64}, "fc", {}, 3)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 3)


def test_class_tokens_are_never_taken_for_image_positions():
    from pano360.model.heads.tokens import feature_layout
    volo = timm.create_model("volo_d1_224", pretrained=False, num_classes=0, global_pool="")
    assert feature_layout(volo) == ("NLC", 1)  # its class token leads the 197 tokens
    pit = timm.create_model("pit_ti_224", pretrained=False, num_classes=0, global_pool="")
    with pytest.raises(ValueError, match=r"returns only its 1 class token"):
        feature_layout(pit)
