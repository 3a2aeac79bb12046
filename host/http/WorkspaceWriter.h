#pragma once
// What the files API calls after it changed items in storage, so the host can bring every live
// pod of the workspace up to date. The API only calls it; the host decides what to do.

#include <vector>

#include "podterm/storage.h"

namespace podterm::host {

class WorkspaceWriter {
 public:
  virtual ~WorkspaceWriter() = default;
  // The items of one committed batch, with meta.version set by storage. A file or symlink
  // written or restored carries its content; a deletion carries meta.deleted = true and no
  // content. Called on an HTTP thread after the batch committed and before the response is sent:
  // must not block for long (queue the work) and should not throw (exceptions are logged and
  // ignored; the write itself stays committed).
  virtual void onItemsWritten(const sdk::WorkspaceId& ws, const std::vector<sdk::Item>& items) = 0;
};

}  // namespace podterm::host
