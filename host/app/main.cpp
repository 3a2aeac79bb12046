#include "app/PodtermApplication.h"

int main(int argc, char** argv) {
  podterm::host::PodtermApplication app;
  return app.run(argc, argv);
}
