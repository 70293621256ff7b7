#include "agent/sampling/offcpu_sampler.h"
