// MambaDNA — the genomics front end: FASTA/FASTQ readers, the nucleotide tokenizer, reverse
// complement, sequence classification and next-base pretraining data. It knows the backbone only
// through token ids in and hidden states out.
//
//   LineReader.swift           plain or gzip text, line by line (zlib gzread), constant memory
//   SequenceReader.swift       FASTA / FASTQ records or chunks, streamed; typed errors with file:line
//   Nucleotides.swift          IUPAC alphabet, case folding, complement, reverse complement of strings
//   NucleotideTokenizer.swift  A C G T N + <pad> <cls> <eos> <mask> <unk>; reverse complement of ids
//   DNADataset.swift           labelled sequences: CSV/TSV, GUE-style split files, class directories
//   SpeciesWindows.swift       windows of L bases from regions (START:END fractions) of genomes
//   DNAClassifier.swift        examples, RC augmentation, RC test-time averaging, metrics, dna.json, runs
//   DNALM.swift                next-base training stream and streamed bits-per-base evaluation
//   DNAError.swift             the errors only DNA has (the shared ones are MambaKit DataErrors of kind .dna)
import MambaKit
