#include "agent/sampling/thread_snapshot.h"
