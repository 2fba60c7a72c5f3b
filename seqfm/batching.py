"""Model inputs made on the device, batch by batch, and the model's logits over them.

The disk and the loader move one byte per base: uint8 codes (and float16 tracks) go to the
device, where :func:`seqfm.alphabet.one_hot` makes the input (:func:`make_input`). Small
datasets live on the device for a whole run; large ones stream from a background thread
through pinned memory (:class:`BatchSource`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import numpy as np
import torch

from .alphabet import Alphabet, one_hot
from .device import autocast


def make_input(codes: torch.Tensor, tracks: torch.Tensor | None, alphabet: Alphabet,
               policy: str) -> torch.Tensor:
    """Model input on the codes' device.

    Parameters
    ----------
    codes : torch.Tensor, uint8, shape ``(B, L)``
    tracks : torch.Tensor, float16, shape ``(B, T, L)``, or None / T = 0
    alphabet : Alphabet
    policy : str
        Ambiguity policy of the dataset.

    Returns
    -------
    torch.Tensor, float32, shape ``(B, A + T, L)``: one-hot channels, then tracks.
    """
    x = one_hot(codes, alphabet, policy)  # a batch is small: made on one thread on the CPU
    if tracks is not None and tracks.shape[1]:
        x = torch.cat([x, tracks.float()], dim=1)
    return x


class BatchSource:
    """Batches of model inputs made on the device from uint8 codes and float16 tracks.

    Parameters
    ----------
    codes : numpy.ndarray, uint8, shape ``(N, L)`` (may be memory-mapped)
    tracks : numpy.ndarray, float16, shape ``(N, T, L)``
    labels : numpy.ndarray, shape ``(N,)``
    device : torch.device
    alphabet : Alphabet
    policy : str
    resident : bool or None
        Copy the whole arrays to the device once (None: when they take at most
        ``resident_max_mb``). Otherwise a background thread gathers each batch from the
        (memory-mapped) arrays into pinned memory and the copy to the device is asynchronous.
    prefetch : int
        Batches the background thread may prepare ahead.
    """

    def __init__(self, codes: np.ndarray, tracks: np.ndarray, labels: np.ndarray,
                 device: torch.device, alphabet: Alphabet, policy: str,
                 resident: bool | None = None, resident_max_mb: float = 2048.0,
                 prefetch: int = 4) -> None:
        self.device = torch.device(device)
        self.alphabet, self.policy = alphabet, policy
        self.n = len(labels)
        self.has_tracks = tracks is not None and tracks.ndim == 3 and tracks.shape[1] > 0
        nbytes = codes.nbytes + (tracks.nbytes if self.has_tracks else 0)
        self.resident = (nbytes <= resident_max_mb * 2**20) if resident is None else bool(resident)
        self.prefetch = prefetch
        self.pin = self.device.type == "cuda"
        if self.resident:
            # np.array copies (memory maps are read-only; torch wants writable memory)
            self.codes = torch.from_numpy(np.array(codes, dtype=np.uint8)).to(self.device)
            self.tracks = (torch.from_numpy(np.array(tracks, dtype=np.float16)).to(self.device)
                           if self.has_tracks else None)
            self.labels = torch.from_numpy(np.asarray(labels, dtype=np.float32)).to(self.device)
        else:
            self.codes_np, self.tracks_np = codes, tracks if self.has_tracks else None
            self.labels_np = np.asarray(labels, dtype=np.float32)

    def iterate(self, index: np.ndarray, batch_size: int, shuffle_seed: int | None = None
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x, y)``: x float32 ``(B, A + T, L)``, y float32 ``(B,)``, on the device.

        Parameters
        ----------
        index : numpy.ndarray, int, shape ``(M,)``
            Rows to visit (in this order unless shuffled).
        batch_size : int
        shuffle_seed : int, optional
            Visit the rows in a permutation drawn from ``torch.Generator().manual_seed(shuffle_seed)``
            (the same on every device).
        """
        index = torch.as_tensor(np.asarray(index, dtype=np.int64))
        if shuffle_seed is not None:
            gen = torch.Generator().manual_seed(int(shuffle_seed))
            index = index[torch.randperm(len(index), generator=gen)]
        if self.resident:
            yield from self._iterate_resident(index, batch_size)
        else:
            yield from self._iterate_streaming(index, batch_size)

    def _iterate_resident(self, index, batch_size):
        index = index.to(self.device)
        for lo in range(0, len(index), batch_size):
            idx = index[lo: lo + batch_size]
            tracks = self.tracks.index_select(0, idx) if self.tracks is not None else None
            x = make_input(self.codes.index_select(0, idx), tracks, self.alphabet, self.policy)
            yield x, self.labels.index_select(0, idx)

    def _gather(self, idx: np.ndarray):
        # sorted rows read memory maps sequentially; the order inside a batch is restored after
        order = np.argsort(idx, kind="stable")
        rows = idx[order]
        inv = np.empty_like(order)
        inv[order] = np.arange(len(order))
        out = [torch.from_numpy(np.ascontiguousarray(np.asarray(self.codes_np[rows])[inv]))]
        if self.tracks_np is not None:
            out.append(torch.from_numpy(np.ascontiguousarray(
                np.asarray(self.tracks_np[rows], dtype=np.float16)[inv])))
        out.append(torch.from_numpy(self.labels_np[idx]))
        if self.pin:
            out = [t.pin_memory() for t in out]
        return out

    def _iterate_streaming(self, index, batch_size):
        index = index.numpy()
        chunks = [index[lo: lo + batch_size] for lo in range(0, len(index), batch_size)]
        q: queue.Queue = queue.Queue(maxsize=max(self.prefetch, 1))
        stop = threading.Event()

        def worker():
            try:
                for idx in chunks:
                    if stop.is_set():
                        return
                    q.put(self._gather(idx))
                q.put(None)
            except BaseException as err:  # hand the failure to the consumer
                q.put(err)

        thread = threading.Thread(target=worker, name="seqfm-loader", daemon=True)
        thread.start()
        try:
            while True:
                item = q.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                nb = self.pin
                tensors = [t.to(self.device, non_blocking=nb) for t in item]
                codes, tracks = tensors[0], (tensors[1] if self.tracks_np is not None else None)
                yield make_input(codes, tracks, self.alphabet, self.policy), tensors[-1]
        finally:
            stop.set()
            while thread.is_alive():
                try:
                    q.get_nowait()
                except queue.Empty:
                    thread.join(0.05)


def batches(codes: np.ndarray, tracks: np.ndarray | None, labels: np.ndarray, batch_size: int,
            device: torch.device | str, alphabet: Alphabet, policy: str = "uniform",
            shuffle_seed: int | None = None, resident: bool | None = None
            ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches ``(x (B, A + T, L) float32, y (B,) float32)`` on ``device``; see :class:`BatchSource`."""
    if tracks is None:
        tracks = np.zeros((len(labels), 0, codes.shape[1]), dtype=np.float16)
    src = BatchSource(codes, tracks, labels, torch.device(device), alphabet, policy, resident=resident)
    return src.iterate(np.arange(len(labels)), batch_size, shuffle_seed)


@torch.inference_mode()
def predict_source(model: torch.nn.Module, source: BatchSource, index: np.ndarray,
                   batch_size: int = 512, amp: bool = False) -> np.ndarray:
    """Logits ``(M,)`` of the rows ``index``, read back from the device once."""
    model.eval()
    outs = []
    for x, _ in source.iterate(index, batch_size):
        with autocast(source.device, amp):
            outs.append(model(x).float())
    if not outs:
        return np.zeros(0, dtype=np.float32)
    return torch.cat(outs).cpu().numpy()


def predict(model: torch.nn.Module, codes: np.ndarray, tracks: np.ndarray | None,
            alphabet: Alphabet, policy: str = "uniform", batch_size: int = 512,
            device: torch.device | str | None = None) -> np.ndarray:
    """Logits of a model for codes ``(N, L)`` (+ tracks ``(N, T, L)``); returns ``(N,)`` float32."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    if tracks is None:
        tracks = np.zeros((len(codes), 0, codes.shape[1]), dtype=np.float16)
    src = BatchSource(codes, tracks, np.zeros(len(codes), dtype=np.float32), device, alphabet, policy)
    return predict_source(model, src, np.arange(len(codes)), batch_size)
