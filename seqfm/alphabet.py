"""Alphabets: letters to uint8 codes, codes to one-hot, reverse complement.

Sequences travel through seqfm as uint8 codes, one byte per position. The first
``size`` codes are the alphabet's letters (the one-hot channels); the codes after
them are ambiguity letters (N and IUPAC for DNA; X, B, Z, J, U, O for protein).
How an ambiguity code becomes a one-hot column is a *policy*:

``uniform``
    the probability mass is spread over the letters the code may stand for
    (N -> 0.25 each, R -> 0.5 A + 0.5 G; protein X -> 1/20 each, B -> 0.5 D + 0.5 N).
``zeros``
    an all-zero column (the position carries no sequence information).
``strict``
    ambiguity letters are refused at encoding time.

Soft-masked (lowercase) letters read as their uppercase letter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .errors import InputError

#: code given to bytes that are no letter of the alphabet (never stored in a dataset)
INVALID = 255

POLICIES = ("uniform", "zeros", "strict")


class AlphabetError(InputError):
    """A sequence holds a letter the alphabet (or the policy) does not allow."""


@dataclass(frozen=True)
class Alphabet:
    """A sequence alphabet with its ambiguity letters.

    Parameters
    ----------
    name : str
        ``"dna"`` or ``"protein"``.
    letters : str
        The one-hot channels, in channel order.
    ambiguity : dict
        Ambiguity letter -> the letters it may stand for.
    complement : str or None
        Complement of each letter in ``letters`` (DNA only).
    """

    name: str
    letters: str
    ambiguity: dict[str, str]
    complement: str | None = None
    _lookup: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lookup = np.full(256, INVALID, dtype=np.uint8)
        for code, letter in enumerate(self.symbols):
            lookup[ord(letter)] = code
            lookup[ord(letter.lower())] = code
        object.__setattr__(self, "_lookup", lookup)

    @property
    def size(self) -> int:
        """Number of one-hot channels."""
        return len(self.letters)

    @property
    def symbols(self) -> str:
        """All letters in code order: the alphabet, then the ambiguity letters."""
        return self.letters + "".join(self.ambiguity)

    @property
    def unknown_code(self) -> int:
        """Code of the 'any letter' symbol (N for DNA, X for protein), used for padding."""
        return self.symbols.index("N" if self.name == "dna" else "X")

    # ------------------------------------------------------------------ encoding
    def encode(self, seq: str | bytes, policy: str = "uniform", where: str = "") -> np.ndarray:
        """Encode one sequence to codes, shape ``(L,)``, dtype uint8."""
        raw = seq.encode("ascii", "replace") if isinstance(seq, str) else seq
        codes = self._lookup[np.frombuffer(raw, dtype=np.uint8)]
        self._check(codes, raw, policy, where)
        return codes

    def encode_batch(
        self, seqs: Sequence[str], policy: str = "uniform", where: Sequence[str] | None = None
    ) -> np.ndarray:
        """Encode equal-length sequences to codes, shape ``(N, L)``, dtype uint8.

        One vectorised table look-up over the concatenated bytes; ``where`` names
        each record for error messages.
        """
        if not len(seqs):
            return np.zeros((0, 0), dtype=np.uint8)
        length = len(seqs[0])
        if any(len(s) != length for s in seqs):
            raise AlphabetError("encode_batch needs sequences of one length")
        raw = "".join(seqs).encode("ascii", "replace")
        codes = np.take(self._lookup, np.frombuffer(raw, dtype=np.uint8)).reshape(len(seqs), length)
        bad = (codes == INVALID) | ((codes >= self.size) if policy == "strict" else False)
        if np.any(bad):
            row = int(np.argmax(bad.any(axis=1)))
            self._check(codes[row], raw[row * length : (row + 1) * length], policy,
                        where[row] if where is not None else f"sequence {row + 1}")
        return codes

    def _check(self, codes: np.ndarray, raw: bytes, policy: str, where: str) -> None:
        if policy not in POLICIES:
            raise AlphabetError(f"unknown ambiguity policy {policy!r}; use one of {', '.join(POLICIES)}")
        bad = codes == INVALID
        if policy == "strict":
            bad |= codes >= self.size
        if np.any(bad):
            pos = int(np.argmax(bad))
            letter = chr(raw[pos]) if raw[pos] < 128 else "?"
            allowed = self.letters if policy == "strict" else self.symbols
            raise AlphabetError(
                f"{where + ': ' if where else ''}letter {letter!r} at position {pos + 1} is not "
                f"allowed in a {self.name} sequence under policy {policy!r} (allowed: {allowed})"
            )

    def decode(self, codes: np.ndarray) -> str:
        """Codes ``(L,)`` back to an uppercase string."""
        table = np.frombuffer(self.symbols.encode(), dtype=np.uint8)
        return table[np.asarray(codes)].tobytes().decode()

    # ------------------------------------------------------------------ one-hot
    def onehot_table(self, policy: str = "uniform") -> np.ndarray:
        """Code -> one-hot column table, shape ``(n_codes, size)``, float32."""
        if policy not in POLICIES:
            raise AlphabetError(f"unknown ambiguity policy {policy!r}; use one of {', '.join(POLICIES)}")
        table = np.zeros((len(self.symbols), self.size), dtype=np.float32)
        table[np.arange(self.size), np.arange(self.size)] = 1.0
        if policy == "uniform":
            for i, meaning in enumerate(self.ambiguity.values(), start=self.size):
                for letter in meaning:
                    table[i, self.letters.index(letter)] = 1.0 / len(meaning)
        return table

    # ------------------------------------------------------------------ strands
    def complement_codes(self) -> np.ndarray:
        """Permutation code -> code of its complement, shape ``(n_codes,)`` uint8 (DNA only)."""
        if self.complement is None:
            raise AlphabetError(f"the {self.name} alphabet has no reverse complement")
        comp = dict(zip(self.letters, self.complement))
        comp.update(IUPAC_COMPLEMENT)
        return np.array([self.symbols.index(comp[s]) for s in self.symbols], dtype=np.uint8)


IUPAC_COMPLEMENT = {"N": "N", "R": "Y", "Y": "R", "S": "S", "W": "W", "K": "M", "M": "K",
                    "B": "V", "V": "B", "D": "H", "H": "D"}

DNA = Alphabet(
    name="dna",
    letters="ACGT",
    ambiguity={"N": "ACGT", "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
               "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG"},
    complement="TGCA",
)

PROTEIN = Alphabet(
    name="protein",
    letters="ACDEFGHIKLMNPQRSTVWY",
    ambiguity={"X": "ACDEFGHIKLMNPQRSTVWY", "B": "DN", "Z": "EQ", "J": "IL",
               "U": "C", "O": "K"},  # selenocysteine as C, pyrrolysine as K
)

ALPHABETS = {"dna": DNA, "protein": PROTEIN}


def get(name: str) -> Alphabet:
    """The alphabet called ``name`` (``"dna"`` or ``"protein"``)."""
    try:
        return ALPHABETS[name]
    except KeyError:
        raise AlphabetError(f"unknown alphabet {name!r}; use 'dna' or 'protein'") from None


def reverse_complement_codes(codes: np.ndarray, alphabet: Alphabet = DNA) -> np.ndarray:
    """Reverse complement of codes ``(..., L)``: complement each code, reverse the last axis."""
    return alphabet.complement_codes()[codes][..., ::-1]


def reverse_tracks(tracks: np.ndarray) -> np.ndarray:
    """Tracks ``(..., T, L)`` on the other strand: per-position scores are strand-free, so only reversed."""
    return tracks[..., ::-1]


def one_hot(codes, alphabet: Alphabet = DNA, policy: str = "uniform", dtype=None, out=None):
    """One-hot encode a batch of codes on the batch's own device.

    Parameters
    ----------
    codes : torch.Tensor or numpy.ndarray, shape ``(N, L)`` (or ``(L,)``), uint8
        Sequence codes.
    alphabet : Alphabet
    policy : str
        Ambiguity policy (``uniform`` or ``zeros``; ``strict`` maps like ``zeros``
        since strict data holds no ambiguity codes).
    dtype : torch.dtype, optional
        Output dtype, default float32.
    out : torch.Tensor, optional
        A float32 CPU buffer of shape ``(N, C, L)`` to write into (a loader reuses
        one buffer per batch size instead of touching fresh memory every batch).

    Returns
    -------
    torch.Tensor, shape ``(N, C, L)`` (or ``(C, L)``), on ``codes``' device.
    """
    import torch

    if isinstance(codes, np.ndarray):
        codes = torch.from_numpy(np.ascontiguousarray(codes))
    dtype = dtype or torch.float32
    policy = "zeros" if policy == "strict" else policy
    if codes.dim() == 1:
        return one_hot(codes[None], alphabet, policy, dtype)[0]
    if codes.device.type == "cpu" and dtype == torch.float32:
        # one fused pass that writes channels-first directly (memory-bandwidth bound)
        if out is None:
            out = torch.empty((codes.shape[0], alphabet.size, codes.shape[1]), dtype=torch.float32)
        identity = np.arange(256, dtype=np.uint8)
        _onehot_kernel(out.numel())(codes.contiguous().numpy(), identity, alphabet.onehot_table(policy),
                         out.numpy(), len(alphabet.symbols))
        return out
    table = _torch_table(alphabet, policy, codes.device, dtype)
    # table[codes] gives (N, L, C); channels-first is what Conv1d wants
    return table[codes.long()].permute(0, 2, 1).contiguous()


def strings_to_one_hot(seqs: Sequence[str], alphabet: Alphabet = DNA, policy: str = "uniform",
                       out=None):
    """Equal-length strings straight to a float32 one-hot tensor ``(N, C, L)`` on the CPU.

    One fused pass from the letters' bytes to the output (letter -> code -> column).
    Letters outside the alphabet raise :class:`AlphabetError` naming the sequence.
    """
    import torch

    length = len(seqs[0]) if len(seqs) else 0
    if any(len(s) != length for s in seqs):
        raise AlphabetError("strings_to_one_hot needs sequences of one length")
    if out is None:
        out = torch.empty((len(seqs), alphabet.size, length), dtype=torch.float32)
    limit = alphabet.size if policy == "strict" else len(alphabet.symbols)
    table = alphabet.onehot_table("zeros" if policy == "strict" else policy)
    dest = out.numpy()
    # about 1 MB of letters at a time: the joined bytes stay in cache and their memory is
    # reused, instead of two fresh copies of the whole input
    step = max(1, (1 << 20) // max(length, 1))
    for lo in range(0, len(seqs), step):
        chunk = seqs[lo:lo + step]
        raw = np.frombuffer("".join(chunk).encode("ascii", "replace"), dtype=np.uint8)
        if _onehot_kernel(dest[lo:lo + step].size)(raw.reshape(len(chunk), length), alphabet._lookup,
                                                   table, dest[lo:lo + step], limit):
            alphabet.encode_batch(chunk, policy, [f"sequence {lo + k + 1}" for k in range(len(chunk))])
    return out


_TABLES: dict = {}


def _torch_table(alphabet: Alphabet, policy: str, device, dtype):
    import torch

    key = (alphabet.name, policy, str(device), dtype)
    if key not in _TABLES:
        _TABLES[key] = torch.from_numpy(alphabet.onehot_table(policy)).to(device=device, dtype=dtype)
    return _TABLES[key]


#: below this many output values one thread is faster than waking a pool (and a second
#: pool beside torch's would oversubscribe the cores during training)
PARALLEL_MIN = 1 << 22
_KERNELS: dict = {}


def _onehot_kernel(size: int = PARALLEL_MIN):
    """Compiled (and disk-cached) numba kernel: bytes (N, L) -> lookup -> table (K, C) -> out (N, C, L).

    ``size`` (the number of output values) picks the multi-threaded or the serial build.
    """
    parallel = size >= PARALLEL_MIN
    if parallel not in _KERNELS:
        import numba

        def kernel(raw, lookup, table, out, limit):  # pragma: no cover - compiled
            """out[i, :, p] = table[lookup[raw[i, p]]]; returns how many codes were >= limit."""
            n, length = raw.shape
            size = table.shape[1]
            bad = np.zeros(n, dtype=np.int64)
            for i in numba.prange(n):
                codes = np.empty(length, dtype=np.uint8)
                ambiguous = 0
                for p in range(length):
                    code = lookup[raw[i, p]]
                    if code >= limit:
                        bad[i] += 1
                        code = 0
                    ambiguous += code >= size
                    codes[p] = code
                # letters are one-hot: a compare per channel vectorises, unlike a table gather
                for k in range(size):
                    row = out[i, k]
                    for p in range(length):
                        row[p] = np.float32(codes[p] == k)
                if ambiguous:
                    for p in range(length):
                        if codes[p] >= size:
                            for k in range(size):
                                out[i, k, p] = table[codes[p], k]
            return bad.sum()

        _KERNELS[parallel] = numba.njit(parallel=parallel, cache=True, nogil=True)(kernel)
    return _KERNELS[parallel]
