# Sourced by the explain scripts: write_minilm_classifier_config FILE DATA_H5 RUN_DIR MICRO_BATCH
# writes a run config for a fine-tuned MiniLM (all-MiniLM-L6-v2 shape) binary classifier
# whose weights come from --checkpoint (no init_from).
write_minilm_classifier_config() {
  cat > "$1" <<TOML
[model]
family = "bert"
head = "sequence_classification"
num_labels = 2
vocab_size = 30522
n_layer = 6
n_head = 12
n_embd = 384
n_inner = 1536
n_positions = 512
type_vocab_size = 2
[data]
path = "$2"
[train]
micro_batch_size = $4
[run]
dir = "$3"
TOML
}
