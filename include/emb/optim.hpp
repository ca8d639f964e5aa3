#pragma once
// The optimizers that consume emb::Gradient: emb::optim::SGD, Adam, AdamW, Adagrad and
// RowWiseAdagrad. Each also compiles on its own (emb/optim/sgd.hpp, ...).

#include "emb/optim/adagrad.hpp"
#include "emb/optim/adam.hpp"
#include "emb/optim/adamw.hpp"
#include "emb/optim/rowwise_adagrad.hpp"
#include "emb/optim/sgd.hpp"
