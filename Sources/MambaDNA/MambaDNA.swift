// MambaDNA — the genomics front end: FASTA/FASTQ readers, the nucleotide tokenizer, reverse
// complement, sequence classification and next-base pretraining data. It knows the backbone only
// through token ids in and hidden states out.
import MambaKit
