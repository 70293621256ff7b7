#include "agent/profiles/thread_profile_writer.h"
