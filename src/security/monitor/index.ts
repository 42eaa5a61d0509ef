export {
  type AlertView,
  blockedSubjects,
  type Hit,
  listAlerts,
  type MonitorContext,
  runMonitorOnce,
  startMonitor,
  voteToLift,
} from './monitor.js'
