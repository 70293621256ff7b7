#include "agent/profiles/offcpu_profile_writer.h"
