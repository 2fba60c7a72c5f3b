"""seqfm: which motifs did a sequence model learn, and where are the binding sites?"""

__version__ = "0.1.0"
