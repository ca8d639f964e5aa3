#pragma once
// The optimizers that consume emb::Gradient: emb::optim::SGD, Adam, AdamW, Adagrad and
// RowWiseAdagrad. Each also compiles on its own (emb/optim/sgd.hpp, ...).

#include "emb/optim/sgd.hpp"
