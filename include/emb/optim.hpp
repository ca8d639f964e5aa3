#pragma once
// The optimizers that consume emb::Gradient: emb::optim::SGD, Adam, AdamW, Adagrad and
// RowWiseAdagrad, and the surface they share (emb::optim::Optimizer, emb/optim/optimizer.hpp).
// Each also compiles on its own (emb/optim/sgd.hpp, ...).

#include "emb/optim/adagrad.hpp"
#include "emb/optim/adam.hpp"
#include "emb/optim/adamw.hpp"
#include "emb/optim/optimizer.hpp"
#include "emb/optim/rowwise_adagrad.hpp"
#include "emb/optim/sgd.hpp"
