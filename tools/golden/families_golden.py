#!/usr/bin/env python3
"""Reference fixtures for the BERT-family conversion tests (tests/core/families_test.cpp).

For each family metarec converts (bert, roberta, xlm-roberta, distilbert, electra, mpnet) this builds
a tiny random HuggingFace model (hidden 64, 2 layers, 4 heads, intermediate 128, 40 positions;
ELECTRA with embedding_size 32, so it has `embeddings_project`; MPNet with its 32-bucket
relative position bias) and a small tokenizer trained here with the `tokenizers` library
(WordPiece for bert/distilbert/electra, byte-level BPE for roberta, Unigram + Metaspace for
xlm-roberta, WordPiece with <s> <pad> </s> <unk> <mask> and MPNet's template for mpnet; the
WordPiece and Unigram vocabularies are built from the corpus's characters and words, as their
trainers are not deterministic), and writes tests/data/families/<model_type>/:
  config.json, model.safetensors   the checkpoint as transformers names it. The weights are
                                   rounded to float16 values and stored as F16 (half the
                                   bytes); the reference runs in fp32 on the same values.
                                   distilbert is stored as DistilBertForMaskedLM names it
                                   ("distilbert." prefix, plus a head tensor to be dropped).
  tokenizer.json (+ vocab.txt for WordPiece), tokenizer_config.json
  golden.safetensors               input_ids/attention_mask/token_type_ids (3 x 12, padding
                                   in two rows), last_hidden_state, mean (masked mean pool),
                                   target, loss = mse(mean, target), grad.<HF name> for a few
                                   parameters, and text_mean: the masked mean of the model's
                                   output on texts.txt tokenized by the tokenizer.json
                                   (padded to the longest).
                                   mpnet also: special_text_ids / special_text_offsets, the
                                   tokenizers library's ids and offsets of SPECIAL_TEXTS (its
                                   <mask> added token strips the space before it).
All references come from transformers (fp32, eval mode, eager attention). With --check BIN
(a built metarec binary) it also converts each fixture, exports it with `metarec export-hf`
and checks that transformers' AutoModel loads the export and gives the same outputs.

  /tmp/st-venv/bin/python tools/golden/families_golden.py [OUT_DIR] [--check build/metarec] [--only mpnet,...]

--only regenerates the named families only (each family's seed depends on its place in the
list, not on what ran before, so the others' fixtures keep their bytes).
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
import transformers as tf

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")
args = [a for a in sys.argv[1:]]
check_bin = None
only = None
if "--only" in args:
    i = args.index("--only")
    only = args[i + 1].split(",")
    del args[i:i + 2]
if "--check" in args:
    i = args.index("--check")
    check_bin = args[i + 1]
    del args[i:i + 2]
OUT = args[0] if args else os.path.join(ROOT, "tests/data/families")

TEXTS = ["Lab gloves, nitrile, size M", "a microscope slide box", "Café crème and 42 pipettes",
         "stainless steel beaker set with handles"]
CORPUS = TEXTS + [
    "the quick brown fox jumps over the lazy dog", "industrial and scientific supplies for the lab",
    "safety glasses with anti fog coating", "digital caliper with stainless steel jaws",
    "glass beakers in five sizes", "nitrile gloves powder free", "microscope with led light",
    "pipette tips sterile and filtered", "a box of test tubes", "measuring tape and level",
    "thermometer for the kitchen and the lab", "cotton swabs and cleaning wipes",
] * 4
WP_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
RB_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
# texts with MPNet's special tokens in them: <mask> takes the spaces before it (lstrip)
SPECIAL_TEXTS = ["a box of <mask> gloves", "<s>lab  <mask>   tubes</s>", "<mask>x \t <mask>", "  <mask> "]


def pieces(lowercase):
    """The vocabulary the WordPiece and Unigram tokenizers are built from, deterministically
    (the tokenizers library's WordPiece and Unigram trainers are not: their output changes
    from run to run): every character of the corpus, then its words by falling count."""
    import collections
    import re
    words = collections.Counter(w for t in CORPUS for w in re.findall(r"\w+", t.lower() if lowercase else t))
    chars = sorted({c for t in CORPUS for c in (t.lower() if lowercase else t) if not c.isspace()})
    top = [w for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])) if len(w) > 1][:60]
    return chars, top, words


def wordpiece():
    chars, top, _ = pieces(True)
    vocab = WP_SPECIALS + chars + ["##" + c for c in chars if c.isalnum()] + top
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tok


def bpe():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=RB_SPECIALS, show_progress=False,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
    return tok


def unigram():
    import math
    chars, top, words = pieces(False)
    total = sum(words.values())
    vocab = [(t, 0.0) for t in RB_SPECIALS] + [("▁", -3.0)] + [(c, -8.0) for c in chars]
    vocab += [("▁" + w, math.log(words[w] / total)) for w in top]
    tok = Tokenizer(models.Unigram(vocab, unk_id=RB_SPECIALS.index("<unk>"), byte_fallback=False))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    s, e = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                       special_tokens=[("<s>", s), ("</s>", e)])
    return tok


def mpnet_wordpiece():
    """As transformers' MPNetConverter (convert_slow_tokenizer.py) writes an MPNet tokenizer.json:
    WordPiece, BertNormalizer (lowercase), BertPreTokenizer, TemplateProcessing "<s>:0 $A:0 </s>:0"
    (pair "<s>:0 $A:0 </s>:0 </s>:0 $B:1 </s>:1"); the specials are added tokens as in
    all-mpnet-base-v2's tokenizer.json, <mask> (the last id) with lstrip."""
    from tokenizers import AddedToken
    chars, top, _ = pieces(True)
    vocab = RB_SPECIALS[:4] + chars + ["##" + c for c in chars if c.isalnum()] + top + ["<mask>"]
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="<unk>"))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    s, e = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(single="<s>:0 $A:0 </s>:0",
                                                       pair="<s>:0 $A:0 </s>:0 </s>:0 $B:1 </s>:1",
                                                       special_tokens=[("<s>", s), ("</s>", e)])
    tok.add_special_tokens([AddedToken(t, lstrip=False, rstrip=False, normalized=False) for t in RB_SPECIALS[:4]] +
                           [AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False)])
    return tok


COMMON = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, max_position_embeddings=40,
              num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, hidden_size=64, hidden_act="gelu")


def families():
    wp, bp, un, mp = wordpiece(), bpe(), unigram(), mpnet_wordpiece()
    rb = dict(COMMON, max_position_embeddings=42, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
              layer_norm_eps=1e-5)
    return [
        ("bert", wp, tf.BertConfig(vocab_size=wp.get_vocab_size(), type_vocab_size=2, layer_norm_eps=1e-12, **COMMON),
         lambda c: tf.BertModel(c, add_pooling_layer=True), ""),
        ("roberta", bp, tf.RobertaConfig(vocab_size=bp.get_vocab_size(), **rb),
         lambda c: tf.RobertaModel(c, add_pooling_layer=True), ""),
        ("xlm-roberta", un, tf.XLMRobertaConfig(vocab_size=un.get_vocab_size(), **rb),
         lambda c: tf.XLMRobertaModel(c, add_pooling_layer=False), ""),
        ("distilbert", wp, tf.DistilBertConfig(vocab_size=wp.get_vocab_size(), dim=64, n_layers=2, n_heads=4,
                                               hidden_dim=128, max_position_embeddings=40, dropout=0.0,
                                               attention_dropout=0.0, activation="gelu", pad_token_id=0),
         lambda c: tf.DistilBertModel(c), "distilbert."),
        ("electra", wp, tf.ElectraConfig(vocab_size=wp.get_vocab_size(), embedding_size=32, type_vocab_size=2,
                                         layer_norm_eps=1e-12, **COMMON),
         lambda c: tf.ElectraModel(c), ""),
        ("mpnet", mp, tf.MPNetConfig(vocab_size=mp.get_vocab_size(), relative_attention_num_buckets=32,
                                     **{k: v for k, v in rb.items() if k != "type_vocab_size"}),
         lambda c: tf.MPNetModel(c, add_pooling_layer=True), ""),
    ]


# the parameters whose gradients the fixture keeps (HF names; those a family lacks are skipped)
GRADS = ["embeddings.position_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings_project.weight",
         "encoder.layer.0.attention.self.query.weight", "encoder.layer.1.output.dense.weight",
         "encoder.layer.1.output.LayerNorm.bias",
         "transformer.layer.0.attention.q_lin.weight", "transformer.layer.1.ffn.lin2.weight",
         "transformer.layer.1.output_layer_norm.bias",
         "encoder.layer.0.attention.attn.q.weight", "encoder.layer.1.attention.LayerNorm.weight",
         "encoder.relative_attention_bias.weight"]


def pad_id(tok):
    return tok.token_to_id("[PAD]") if tok.token_to_id("[PAD]") is not None else tok.token_to_id("<pad>")


def run(model, mt, ids, mask, types):
    kw = dict(input_ids=ids, attention_mask=mask)
    if mt not in ("distilbert", "mpnet"):  # no token types
        kw["token_type_ids"] = types
    h = model(**kw).last_hidden_state
    m = mask.unsqueeze(-1).float()
    return h, (h * m).sum(1) / m.sum(1).clamp(min=1e-9)


def make(mt, tok, cfg, build, prefix, gen):
    d = os.path.join(OUT, mt)
    os.makedirs(d, exist_ok=True)
    cfg._attn_implementation = "eager"
    torch.manual_seed(gen.initial_seed())  # the initialisation does not depend on what ran before
    model = build(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name or name.endswith("bias"):
                p.add_(torch.randn(p.shape, generator=gen) * 0.1)
            p.copy_(p.half().float())  # the F16 file holds exactly these values
    params = dict(model.named_parameters())
    tensors = {prefix + k: v.detach().half().contiguous() for k, v in params.items()}
    if prefix:  # a head the encoder does not use: convert drops it and says so
        tensors["vocab_layer_norm.weight"] = torch.ones(cfg.dim, dtype=torch.float16)
    save_file(tensors, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    cj = cfg.to_dict()
    for k in ("_attn_implementation_autoset", "transformers_version", "dtype", "torch_dtype"):
        cj.pop(k, None)
    cj["architectures"] = [type(model).__name__]
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cj, f, indent=2, sort_keys=True)
        f.write("\n")
    tok.save(os.path.join(d, "tokenizer.json"))
    pad = pad_id(tok)
    special = {"pad_token": tok.id_to_token(pad), "unk_token": tok.id_to_token(3 if pad == 1 else 1)}
    lower = pad == 0 or mt == "mpnet"
    if pad == 0:
        special.update(cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
        vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
        with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
            f.writelines(t + "\n" for t, _ in vocab)
    else:
        special.update(bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>", mask_token="<mask>")
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(dict(tokenizer_class="PreTrainedTokenizerFast", model_max_length=32, do_lower_case=lower,
                       **special), f, indent=2, sort_keys=True)
        f.write("\n")

    # a batch of ids: a first special token, random ids above the specials, padding in two rows
    B, T, V = 3, 12, cfg.vocab_size
    ids = torch.randint(5, V, (B, T), generator=gen)
    ids[:, 0] = tok.token_to_id("[CLS]") if pad == 0 else tok.token_to_id("<s>")
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 9:] = 0
    mask[2, 4:] = 0
    ids[mask == 0] = pad
    types = torch.zeros(B, T, dtype=torch.long)
    if getattr(cfg, "type_vocab_size", 1) > 1:
        types[0, 6:] = 1
        types[1, 3:9] = 1
    h, mean = run(model, mt, ids, mask, types)
    target = torch.randn(mean.shape, generator=gen)
    loss = torch.nn.functional.mse_loss(mean, target)
    loss.backward()
    golden = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "last_hidden_state": h.detach(),
              "mean": mean.detach(), "target": target, "loss": loss.detach().reshape(1)}
    for g in GRADS:
        if g in params:
            golden["grad." + g] = params[g].grad.detach().clone()

    # texts through the tokenizer.json, padded to the longest, as `metarec embed` batches them
    tk = Tokenizer.from_str(tok.to_str())
    tk.enable_padding(pad_id=pad, pad_token=tok.id_to_token(pad))
    enc = tk.encode_batch(TEXTS)
    tids = torch.tensor([e.ids for e in enc])
    tmask = torch.tensor([e.attention_mask for e in enc])
    ttypes = torch.tensor([e.type_ids for e in enc])
    with torch.no_grad():
        _, tmean = run(model, mt, tids, tmask, ttypes)
    golden["text_ids"] = tids
    golden["text_mean"] = tmean
    if mt == "mpnet":  # the added tokens in text (ids and char offsets, no padding; -1 pads the rows)
        tk.no_padding()
        enc = [tk.encode(t) for t in SPECIAL_TEXTS]
        n = max(len(e.ids) for e in enc)
        golden["special_text_ids"] = torch.tensor([e.ids + [-1] * (n - len(e.ids)) for e in enc], dtype=torch.int32)
        golden["special_text_offsets"] = torch.tensor([[list(o) for o in e.offsets] + [[-1, -1]] * (n - len(e.ids))
                                                       for e in enc], dtype=torch.int32)
        # transformers reads the folder's tokenizer the same way
        hf = tf.AutoTokenizer.from_pretrained(d)
        assert hf(TEXTS, padding=True)["input_ids"] == tids.tolist(), "transformers' ids differ"
        assert [hf(t)["input_ids"] for t in SPECIAL_TEXTS] == [e.ids for e in enc], "transformers' ids differ"
    save_file({k: v.contiguous() for k, v in golden.items()}, os.path.join(d, "golden.safetensors"))
    print(f"{mt}: {type(model).__name__}, vocab {V}, loss {float(loss.detach()):.6f}, "
          f"{sum(1 for g in GRADS if g in params)} gradients -> {d}")
    return d


def check_export(mt, d):
    """metarec convert + export-hf, then transformers loads the export: same outputs."""
    with tempfile.TemporaryDirectory() as tmp:
        conv, exp = os.path.join(tmp, "m"), os.path.join(tmp, "hf")
        subprocess.run([check_bin, "convert", "--from-hf", d, "--out", conv], check=True, capture_output=True)
        subprocess.run([check_bin, "export-hf", "--from", conv, "--out", exp], check=True, capture_output=True)
        a = tf.AutoModel.from_pretrained(d, dtype=torch.float32).eval()
        b = tf.AutoModel.from_pretrained(exp, dtype=torch.float32).eval()
        assert type(a) is type(b), (type(a), type(b))
        from safetensors.torch import load_file
        g = load_file(os.path.join(d, "golden.safetensors"))
        with torch.no_grad():
            ha, _ = run(a, mt, g["input_ids"], g["attention_mask"], g["token_type_ids"])
            hb, _ = run(b, mt, g["input_ids"], g["attention_mask"], g["token_type_ids"])
        diff = float((ha - hb).abs().max())
        ref = float((ha - g["last_hidden_state"]).abs().max())
        tokb = tf.AutoTokenizer.from_pretrained(exp)
        same_tok = tokb(TEXTS, padding=True)["input_ids"] == g["text_ids"].tolist()
        print(f"  export: transformers loads it as {type(b).__name__} + {type(tokb).__name__}; last hidden state "
              f"max abs diff {diff:.3g} (fixture vs reloaded fixture {ref:.3g}); tokenizer ids same: {same_tok}")
        if diff > 1e-6 or not same_tok:
            raise SystemExit(f"{mt}: the export differs")


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "texts.txt"), "w", encoding="utf-8") as f:
        f.writelines(t + "\n" for t in TEXTS)
    for i, (mt, tok, cfg, build, prefix) in enumerate(families()):
        if only and mt not in only:
            continue
        gen = torch.Generator().manual_seed(100 + i)
        d = make(mt, tok, cfg, build, prefix, gen)
        if check_bin:
            check_export(mt, d)


if __name__ == "__main__":
    main()
