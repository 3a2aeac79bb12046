#pragma once
// The RFC 6455 codec moved to the SDK's wire utilities (sdk/wire) so runtime plugins can use it;
// this header keeps host code, its tests and the benchmarks spelling it podterm::host::*.

#include "podterm/wire/FrameCodec.h"

namespace podterm::host {
using namespace podterm::wire;  // NOLINT(google-build-using-namespace)
}  // namespace podterm::host
