/** The compose file's only container; the task definition names it and the service's target group forwards to it. */
export const CONTAINER_NAME = 'web';
