// optim.h: everything of optim/, the optimisers and schedules that train a model:
//   optimizer.h  Optimizer, ParamGroup, param_groups_weight_decay (timm's no-decay split)
//   sgd.h        SGD with momentum, dampening, nesterov, weight decay
//   adamw.h      AdamW
//   schedule.h   WarmupCosineLR, clip_grad_norm_
#pragma once

#include "optim/adamw.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
