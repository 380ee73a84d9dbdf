/** File upload: SAS URIs into the linked blob storage, the active-upload limit, completion and file notifications. */
export {
  FileUploads,
  FILE_NOTIFICATION_CONTENT_TYPE,
  FILE_UPLOAD_DEFAULT_SETTINGS,
  FILE_UPLOAD_MAX_ACTIVE,
  FILE_UPLOAD_MAX_BLOB_NAME,
  FILE_UPLOAD_MAX_SAS_TTL_MS,
  FILE_UPLOAD_MIN_SAS_TTL_MS,
  renderFileNotification,
  type FileNotificationBody,
  type FileUploadNotifyInput,
  type FileUploadSasUri,
  type FileUploadSettings,
  type FileUploadsDeps,
} from "./file-uploads.js";
export type { FileUploadEvent, FileUploadEventSink } from "./file-upload-events.js";
