"""One module per `seqfm` verb (see seqfm.cli)."""
