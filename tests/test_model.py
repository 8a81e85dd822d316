import pytest
import timm
import torch

from pano360.heads import HEADS
from pano360.losses import build_loss
from pano360.model import CheckpointError, build_model, checkpoint_payload, data_config, load_checkpoint

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
    with pytest.raises(FileNotFoundError, match="pretrained_file"):
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
