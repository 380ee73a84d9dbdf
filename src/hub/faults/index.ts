export {
  FaultRules,
  FAULT_OPERATIONS,
  FAULT_PROTOCOLS,
  TRANSPORT_FAULTS,
  isDropFault,
  parseRule,
  type Fault,
  type FaultCall,
  type FaultOperation,
  type FaultProtocol,
  type FaultRule,
  type TransportFault,
} from "./fault-rules.js";
export { MessageFaults, FAULT_PROPERTIES, MESSAGE_FAULT_TYPES } from "./message-faults.js";
