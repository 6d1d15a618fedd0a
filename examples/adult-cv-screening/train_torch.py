"""Train a small PyTorch text model on the same GENERATED profiles (make_profiles.py) as train.py.

The model reads the token ids of a profile (a LongTensor (N, L), padded with id 0): an embedding of
16 numbers per word, the mean over the profile's words (padding left out), a hidden layer of 16
units (tanh) and one output, the logit of income >50K ("shortlist"). It is trained on the same
6,000 training people as train.py (make_profiles.load_sample) with the words as written, so it can
learn the gendered ones.

Its tokenizer travels inside the TorchScript file, as the extra file audit_tokenizer.json that
`audit` reads (torch.jit.save(..., _extra_files=...)): the vocabulary (words in at least 5
training profiles, like train.py's min_df=5; ids from 2, 0 is padding, 1 any other word), the
token pattern (scikit-learn's default, words of two or more letters or digits), lower case, the
padded length (64 tokens; the longest profile has 44) and the module path of the embedding layer.

Writes model-torch.pt. Deterministic (seeded, one thread, deterministic algorithms); under 30 s on
one CPU thread.

Run: python examples/adult-cv-screening/train_torch.py
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter

import torch
from make_profiles import HERE, SEED, load_sample
from sklearn.metrics import accuracy_score, roc_auc_score

POSITIVE = ">50K"
PATTERN = r"(?u)\b\w\w+\b"
PAD, UNKNOWN = 0, 1
MAX_LENGTH = 64
MIN_DF = 5
DIM, HIDDEN = 16, 16
EPOCHS, BATCH, LEARNING_RATE, WEIGHT_DECAY = 20, 64, 0.01, 1e-4


class ProfileClassifier(torch.nn.Module):
    """Embedding, mean over the non-padding positions, tanh hidden layer, one logit."""

    def __init__(self, vocabulary_size: int) -> None:
        super().__init__()
        self.pad_id = PAD
        self.embedding = torch.nn.Embedding(vocabulary_size, DIM, padding_idx=PAD)
        self.hidden = torch.nn.Linear(DIM, HIDDEN)
        self.out = torch.nn.Linear(HIDDEN, 1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = (ids != self.pad_id).unsqueeze(-1).to(torch.float32)
        words = self.embedding(ids) * mask
        mean = words.sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return self.out(torch.tanh(self.hidden(mean)))


def tokens(text: str) -> list[str]:
    return re.findall(PATTERN, text.lower())


def vocabulary_of(texts: list[str]) -> dict[str, int]:
    """Words in at least MIN_DF texts, sorted, numbered from 2."""
    df = Counter(word for text in texts for word in set(tokens(text)))
    return {word: i + 2 for i, word in enumerate(sorted(w for w, n in df.items() if n >= MIN_DF))}


def ids_of(texts: list[str], vocabulary: dict[str, int]) -> torch.Tensor:
    out = torch.full((len(texts), MAX_LENGTH), PAD, dtype=torch.long)
    for i, text in enumerate(texts):
        found = [vocabulary.get(word, UNKNOWN) for word in tokens(text)[:MAX_LENGTH]]
        out[i, :len(found)] = torch.tensor(found, dtype=torch.long)
    return out


def main() -> None:
    started = time.perf_counter()
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    train, audit = load_sample()
    vocabulary = vocabulary_of(list(train["profile"]))
    x = ids_of(list(train["profile"]), vocabulary)
    y = torch.tensor((train["income"] == POSITIVE).to_numpy(), dtype=torch.float32).reshape(-1, 1)
    model = ProfileClassifier(len(vocabulary) + 2)
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    order = torch.Generator().manual_seed(SEED)
    model.train()
    for _ in range(EPOCHS):
        for batch in torch.randperm(len(x), generator=order).split(BATCH):
            optimiser.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimiser.step()
    model.eval()
    tokenizer = {"vocabulary": vocabulary, "pattern": PATTERN, "lowercase": True, "max_length": MAX_LENGTH,
                 "pad_id": PAD, "unknown_id": UNKNOWN, "embedding": "embedding"}
    scripted = torch.jit.script(model)
    path = HERE / "model-torch.pt"
    torch.jit.save(scripted, str(path), _extra_files={"audit_tokenizer.json": json.dumps(tokenizer, sort_keys=True)})
    with torch.no_grad():
        logit = scripted(ids_of(list(audit["profile"]), vocabulary)).numpy().reshape(-1)
    truth = (audit["income"] == POSITIVE).to_numpy()
    shortlisted = logit > 0
    women = (audit["sex"] == "Female").to_numpy()
    print(f"model-torch.pt: {len(vocabulary)} words, trained on {len(train)} rows; on the audit half "
          f"({len(audit)}): accuracy {accuracy_score(truth, shortlisted):.3f}, ROC AUC {roc_auc_score(truth, logit):.3f}, "
          f"shortlisted {shortlisted.mean():.1%} (women {shortlisted[women].mean():.1%}, men "
          f"{shortlisted[~women].mean():.1%}); {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
