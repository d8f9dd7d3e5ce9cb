#include "events.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "atomic_file.h"

namespace pguard {

std::string FormatJournalLine(const JournalLine& line) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.SetMaxDecimalPlaces(6);
  writer.StartObject();
  writer.Key("ts");
  writer.Double(line.ts);
  // Every line has a name; the watcher's own events have none to give.
  writer.Key("name");
  if (line.name.empty()) {
    writer.Null();
  } else {
    writer.String(line.name.c_str(),
                  static_cast<rapidjson::SizeType>(line.name.size()));
  }
  writer.Key("event");
  writer.String(line.event.c_str(),
                static_cast<rapidjson::SizeType>(line.event.size()));
  if (line.pid) {
    writer.Key("pid");
    writer.Int(*line.pid);
  }
  if (!line.exit.empty()) {
    writer.Key("exit");
    writer.String(line.exit.c_str(),
                  static_cast<rapidjson::SizeType>(line.exit.size()));
  }
  if (line.run_time) {
    writer.Key("run_time");
    writer.Double(*line.run_time);
  }
  if (!line.message.empty()) {
    writer.Key("message");
    writer.String(line.message.c_str(),
                  static_cast<rapidjson::SizeType>(line.message.size()));
  }
  writer.EndObject();
  std::string text(buffer.GetString(), buffer.GetSize());
  text += '\n';
  return text;
}

Status AppendJournal(const HomePaths& paths, const JournalLine& line) {
  return AppendToFile(paths.Events(), FormatJournalLine(line), 0600);
}

}  // namespace pguard
