// Instantiates the mocks once so their vtables live in one object file.
#include "podterm/testing/mocks.h"
