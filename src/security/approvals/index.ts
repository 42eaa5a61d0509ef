export {
  APPROVAL_KINDS,
  type ApprovalContext,
  type ApprovalKind,
  type ApprovalView,
  approveRequest,
  cancelApproval,
  findApproval,
  listApprovals,
  personOf,
  requestApproval,
} from './approvals.js'
